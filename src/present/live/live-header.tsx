// The lines above the live table: one per interface (kernel counters beside what the capture
// saw), then the session line — unknown share, elapsed time, interval and the current settings.

import { Box, Text } from 'ink';
import type { InterfaceUsage } from '../usage-report.js';
import { formatBytes, formatRate } from '../units.js';
import type { RateUnit } from './amount-columns.js';
import type { Segment } from './columns.js';
import { joinToFit } from './columns.js';
import type { Measure, SortKey } from './view-rows.js';

export function formatElapsed(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h${pad(m)}m${pad(s)}s`;
  if (m > 0) return `${m}m${pad(s)}s`;
  return `${s}s`;
}

export function interfaceText(i: InterfaceUsage, unit: RateUnit, width: number): string {
  const segments: Segment[] = [{ text: i.name, priority: 9 }];
  const kernel = i.kernelTxBytes !== undefined && i.kernelRxBytes !== undefined;
  const txRate = kernel ? i.kernelTxRate : i.txRate;
  const rxRate = kernel ? i.kernelRxRate : i.rxRate;
  if (txRate !== undefined && rxRate !== undefined) segments.push({ text: `↑${formatRate(txRate, unit)} ↓${formatRate(rxRate, unit)}`, priority: 8 });
  if (kernel) segments.push({ text: `total ↑${formatBytes(i.kernelTxBytes!)} ↓${formatBytes(i.kernelRxBytes!)}`, priority: 7 });
  segments.push({ text: `captured ↑${formatBytes(i.txBytes)} ↓${formatBytes(i.rxBytes)}`, priority: kernel ? 5 : 7 });
  if ((i.droppedPackets ?? 0) > 0) segments.push({ text: `dropped ${i.droppedPackets}`, priority: 6 });
  return joinToFit(segments, width);
}

export function formatShare(share: number | null): string {
  if (share === null) return '-';
  if (share > 0 && share < 0.001) return '<0.1%';
  return `${(share * 100).toFixed(1)}%`;
}

export interface SessionStatus {
  unknownShare: number | null;
  elapsedSeconds: number;
  intervalSeconds: number;
  view: string;
  sort: SortKey;
  measure: Measure;
  unit: RateUnit;
  filter: string;
}

export function statusText(s: SessionStatus, width: number): string {
  const segments: Segment[] = [
    { text: `unknown ${formatShare(s.unknownShare)}`, priority: 4 },
    { text: formatElapsed(s.elapsedSeconds), priority: 6 },
    { text: `every ${Number(s.intervalSeconds.toFixed(2))}s`, priority: 2 },
    { text: `view ${s.view}`, priority: 8 },
    { text: `sort ${s.sort} (${s.measure === 'rate' ? 'rate' : 'cumulative'})`, priority: 7 },
    { text: s.unit === 'bits' ? 'bit/s' : 'B/s', priority: 3 },
  ];
  if (s.filter) segments.push({ text: `filter "${s.filter}"`, priority: 5 });
  return joinToFit(segments, width);
}

const PAUSED = 'PAUSED';

export function LiveHeader({ interfaces, status, paused, unit, width }: { interfaces: InterfaceUsage[]; status: SessionStatus; paused: boolean; unit: RateUnit; width: number }) {
  const statusWidth = paused ? width - PAUSED.length - 2 : width;
  return (
    <Box flexDirection="column">
      {interfaces.map((i) => (
        <Text key={i.name} wrap="truncate-end">
          {interfaceText(i, unit, width)}
        </Text>
      ))}
      <Box columnGap={2}>
        {paused ? (
          <Text inverse bold>
            {PAUSED}
          </Text>
        ) : null}
        <Text dimColor wrap="truncate-end">
          {statusText(status, statusWidth)}
        </Text>
      </Box>
    </Box>
  );
}
