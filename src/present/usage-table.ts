// Plain-text tables of a usage report, for replays, pipes and cron: per subscriber with
// --by host, per process when process data exists, per connection otherwise, then the unknown/other/total lines.

import type { ConnectionUsage, ProcessUsage, UsageReport } from './usage-report.js';
import { formatBytes } from './units.js';

export type SortKey = 'sent' | 'received' | 'total';

export interface TableOptions {
  sort: SortKey;
  top?: number;
}

export function sortValue(row: { sentBytes: number; receivedBytes: number }, key: SortKey): number {
  return key === 'sent' ? row.sentBytes : key === 'received' ? row.receivedBytes : row.sentBytes + row.receivedBytes;
}

export function renderUsageTable(report: UsageReport, options: TableOptions): string {
  const bySort = <T extends { sentBytes: number; receivedBytes: number }>(rows: T[]) =>
    [...rows].sort((x, y) => sortValue(y, options.sort) - sortValue(x, options.sort)).slice(0, options.top ?? rows.length);
  const lines: string[] = [];
  const header = ['SENT', 'RECEIVED', 'TOTAL'];
  const amounts = (r: { sentBytes: number; receivedBytes: number }) => [
    formatBytes(r.sentBytes),
    formatBytes(r.receivedBytes),
    formatBytes(r.sentBytes + r.receivedBytes),
  ];
  let rows: string[][];
  if (report.by === 'host') {
    // --by host: a row per subscriber (no pid, user or program to show).
    rows = [['SUBSCRIBER', ...header], ...bySort(report.processes).map((p: ProcessUsage) => [p.host ?? p.name, ...amounts(p)])];
  } else if (report.processes.length > 0) {
    rows = [['PID', 'USER', 'PROGRAM', ...header], ...bySort(report.processes).map((p: ProcessUsage) => [String(p.pid ?? '-'), p.user ?? '-', programText(p), ...amounts(p)])];
  } else {
    rows = [['PROTO', 'LOCAL', 'REMOTE', ...header], ...bySort(report.connections).map((c: ConnectionUsage) => [c.protocol, endpoint(c.localAddress, c.localPort), endpoint(c.remoteAddress, c.remotePort), ...amounts(c)])];
  }
  const blank = rows[0]!.length - 3;
  const bucketRow = (label: string, b: { sentBytes: number; receivedBytes: number }) => [label, ...new Array<string>(blank - 1).fill(''), ...amounts(b)];
  rows.push(bucketRow('unknown', report.unknown), bucketRow('other', report.other), bucketRow('total', report.totals));
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const numeric = (col: number) => col >= rows[0]!.length - 3;
  for (const [index, row] of rows.entries()) {
    if (index === rows.length - 3) lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
    lines.push(row.map((cell, col) => (numeric(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  ').trimEnd());
  }
  return lines.join('\n') + '\n';
}

function programText(p: ProcessUsage): string {
  const command = p.cmdline && p.cmdline !== p.name ? p.cmdline : '';
  const text = command ? `${p.name} (${command})` : p.name;
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
