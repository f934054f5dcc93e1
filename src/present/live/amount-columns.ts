// The four number columns every live table shares: upload/download rates and sent/received
// totals. The pair of the current measure leads and always stays; the other pair is the
// first to go when the terminal is narrow.

import { formatBytes, formatRate } from '../units.js';
import type { ColumnSpec } from './columns.js';
import type { Amounts, Measure, ScreenSort } from './view-rows.js';

export type RateUnit = 'bytes' | 'bits';

const RATE_WIDTH = 12;
const TOTAL_WIDTH = 10;

export function amountColumns(measure: Measure, sort: ScreenSort, secondaryDropRank: number): ColumnSpec[] {
  const mark = (title: string, direction: 'upload' | 'download') => (sort === direction || sort === 'total' ? `${title}▼` : title);
  const rates = (dropRank?: number): ColumnSpec[] => [
    { id: 'upload', title: measure === 'rate' ? mark('UPLOAD', 'upload') : 'UPLOAD', width: RATE_WIDTH, align: 'right', dropRank },
    { id: 'download', title: measure === 'rate' ? mark('DOWNLOAD', 'download') : 'DOWNLOAD', width: RATE_WIDTH, align: 'right', dropRank },
  ];
  const totals = (dropRank?: number): ColumnSpec[] => [
    { id: 'sent', title: measure === 'total' ? mark('SENT', 'upload') : 'SENT', width: TOTAL_WIDTH, align: 'right', dropRank },
    { id: 'received', title: measure === 'total' ? mark('RECEIVED', 'download') : 'RECEIVED', width: TOTAL_WIDTH, align: 'right', dropRank },
  ];
  return measure === 'rate' ? [...rates(), ...totals(secondaryDropRank)] : [...totals(), ...rates(secondaryDropRank)];
}

export function amountCells(row: Amounts, unit: RateUnit): Record<string, string> {
  return {
    upload: formatRate(row.sentRate, unit),
    download: formatRate(row.receivedRate, unit),
    sent: formatBytes(row.sentBytes),
    received: formatBytes(row.receivedBytes),
  };
}
