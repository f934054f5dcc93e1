// The lines above the live table: one per interface (kernel counters beside what the capture
// saw), then the session line — unknown share, elapsed time, interval and the current settings.

import { Box, Text } from 'ink';
import type { InterfaceUsage } from '../usage-report.js';
import { formatBytes, formatRate } from '../units.js';
import type { RateUnit } from './amount-columns.js';
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

export function interfaceText(i: InterfaceUsage, unit: RateUnit): string {
  const parts = [i.name];
  const kernel = i.kernelTxBytes !== undefined && i.kernelRxBytes !== undefined;
  const txRate = kernel ? i.kernelTxRate : i.txRate;
  const rxRate = kernel ? i.kernelRxRate : i.rxRate;
  if (txRate !== undefined && rxRate !== undefined) parts.push(`↑ ${formatRate(txRate, unit)} ↓ ${formatRate(rxRate, unit)}`);
  if (kernel) parts.push(`total ↑ ${formatBytes(i.kernelTxBytes!)} ↓ ${formatBytes(i.kernelRxBytes!)}`);
  parts.push(`captured ↑ ${formatBytes(i.txBytes)} ↓ ${formatBytes(i.rxBytes)}`);
  if ((i.droppedPackets ?? 0) > 0) parts.push(`dropped ${i.droppedPackets}`);
  return parts.join('  ');
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

export function statusText(s: SessionStatus): string {
  const parts = [
    `unknown ${s.unknownShare === null ? '-' : `${(s.unknownShare * 100).toFixed(1)}%`}`,
    formatElapsed(s.elapsedSeconds),
    `every ${Number(s.intervalSeconds.toFixed(2))}s`,
    `view ${s.view}`,
    `sort ${s.sort} (${s.measure === 'rate' ? 'rate' : 'cumulative'})`,
    s.unit === 'bits' ? 'bit/s' : 'B/s',
  ];
  if (s.filter) parts.push(`filter "${s.filter}"`);
  return parts.join('  ');
}

export function LiveHeader({ interfaces, status, paused, unit }: { interfaces: InterfaceUsage[]; status: SessionStatus; paused: boolean; unit: RateUnit }) {
  return (
    <Box flexDirection="column">
      {interfaces.map((i) => (
        <Text key={i.name} wrap="truncate-end">
          {interfaceText(i, unit)}
        </Text>
      ))}
      <Text wrap="truncate-end">
        {paused ? (
          <Text inverse bold>
            PAUSED
          </Text>
        ) : null}
        {paused ? '  ' : ''}
        <Text dimColor>{statusText(status)}</Text>
      </Text>
    </Box>
  );
}
