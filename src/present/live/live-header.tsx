// The lines above the live table: one per interface (kernel counters beside what the capture
// saw; a loopback that carries traffic but is not captured says how to capture it), then the
// session line — unknown share, elapsed time, interval and the current settings.

import { Box, Text } from 'ink';
import type { InterfaceUsage, UncapturedInterfaceUsage, UsageReport } from '../usage-report.js';
import { formatBytes, formatRate } from '../units.js';
import type { RateUnit } from './amount-columns.js';
import type { Segment } from './columns.js';
import { joinToFit } from './columns.js';
import type { Measure, ScreenSort } from './view-rows.js';

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

/** Spaces between the groups of an interface line, and between the cells of one group. */
const GROUP_GAP = 2;
const CELL_GAP = 1;

/**
 * The groups of an interface line, left to right. Every line has the same groups at the
 * same widths, so eth0's and lo's figures stand in columns; a narrow terminal drops whole
 * groups, the least important first.
 */
type GroupId = 'name' | 'rate' | 'total' | 'captured' | 'dropped';
const GROUP_ORDER: readonly GroupId[] = ['name', 'rate', 'total', 'captured', 'dropped'];

/** A group's content on one line: cells that line up with the other lines' cells, or one text across the group. */
type GroupContent = { cells: string[] } | { span: string };

export interface HeaderLine {
  name: string;
  groups: Partial<Record<GroupId, GroupContent>>;
  /** Per group: how long it stays as the line narrows (higher stays longer). */
  priority: Partial<Record<GroupId, number>>;
}

export interface HeaderGroup {
  id: GroupId;
  width: number;
  /** Widths of the cells in the group, the widest of every line. */
  cellWidths: number[];
}

const textWidth = (text: string) => [...text].length;

/**
 * Least cell widths: rates change every interval, and columns that widened and narrowed
 * with them would shift the rest of the line each second ("↑100.0 KiB/s" is 12 wide).
 */
const MIN_CELL_WIDTHS: Partial<Record<GroupId, number[]>> = { rate: [12, 12] };

function capturedLine(i: InterfaceUsage, unit: RateUnit): HeaderLine {
  const kernel = i.kernelTxBytes !== undefined && i.kernelRxBytes !== undefined;
  const txRate = kernel ? i.kernelTxRate : i.txRate;
  const rxRate = kernel ? i.kernelRxRate : i.rxRate;
  const line: HeaderLine = { name: i.name, groups: { name: { cells: [i.name] } }, priority: { name: 9 } };
  if (txRate !== undefined && rxRate !== undefined) {
    line.groups.rate = { cells: [`↑${formatRate(txRate, unit)}`, `↓${formatRate(rxRate, unit)}`] };
    line.priority.rate = 8;
  }
  if (kernel) {
    line.groups.total = { cells: [`total ↑${formatBytes(i.kernelTxBytes!)}`, `↓${formatBytes(i.kernelRxBytes!)}`] };
    line.priority.total = 7;
  }
  line.groups.captured = { cells: [`captured ↑${formatBytes(i.txBytes)}`, `↓${formatBytes(i.rxBytes)}`] };
  // Without the kernel's counters, what was captured is all the line has to say.
  line.priority.captured = kernel ? 5 : 7;
  if ((i.droppedPackets ?? 0) > 0) {
    line.groups.dropped = { span: `dropped ${i.droppedPackets}` };
    line.priority.dropped = 6;
  }
  return line;
}

function uncapturedLine(u: UncapturedInterfaceUsage, unit: RateUnit): HeaderLine {
  const line: HeaderLine = {
    name: u.name,
    groups: {
      name: { cells: [u.name] },
      total: { cells: [`total ↑${formatBytes(u.txBytes)}`, `↓${formatBytes(u.rxBytes)}`] },
      // Where a captured interface shows what was captured: how to capture this one.
      captured: { span: `not shown: -i ${u.name}` },
    },
    // That its traffic is missing, and how to see it, outlasts every figure but the name.
    priority: { name: 9, total: 7, captured: 8.5 },
  };
  if (u.txRate !== undefined && u.rxRate !== undefined) {
    line.groups.rate = { cells: [`↑${formatRate(u.txRate, unit)}`, `↓${formatRate(u.rxRate, unit)}`] };
    line.priority.rate = 8;
  }
  return line;
}

/** Uncaptured interfaces worth a line: those that moved a byte since start. */
export function uncapturedWithTraffic(report: UsageReport): UncapturedInterfaceUsage[] {
  return (report.uncapturedInterfaces ?? []).filter((u) => u.rxBytes + u.txBytes > 0);
}

/** How many lines the header takes: one per interface shown, and the session line. */
export function headerLines(report: UsageReport): number {
  return report.interfaces.length + uncapturedWithTraffic(report).length + 1;
}

/**
 * The groups that fit `width` on every line, with their widths: the lowest-priority group
 * goes first (a group's priority is the highest any line gives it) until the widest line fits.
 */
export function headerGroups(lines: readonly HeaderLine[], width: number): HeaderGroup[] {
  const groups: Array<HeaderGroup & { priority: number }> = [];
  for (const id of GROUP_ORDER) {
    const present = lines.filter((l) => l.groups[id] !== undefined);
    if (present.length === 0) continue;
    const cellWidths: number[] = [...(MIN_CELL_WIDTHS[id] ?? [])];
    let spanWidth = 0;
    for (const line of present) {
      const content = line.groups[id]!;
      if ('span' in content) spanWidth = Math.max(spanWidth, textWidth(content.span));
      else content.cells.forEach((cell, i) => (cellWidths[i] = Math.max(cellWidths[i] ?? 0, textWidth(cell))));
    }
    const cellsWidth = cellWidths.reduce((sum, w) => sum + w, 0) + CELL_GAP * Math.max(0, cellWidths.length - 1);
    const priority = Math.max(...present.map((l) => l.priority[id] ?? 0));
    groups.push({ id, width: Math.max(cellsWidth, spanWidth), cellWidths, priority });
  }
  const needed = (kept: typeof groups) => kept.reduce((sum, g) => sum + g.width, 0) + GROUP_GAP * Math.max(0, kept.length - 1);
  let kept = groups;
  while (kept.length > 1 && needed(kept) > width) {
    const lowest = kept.slice(1).reduce((a, b) => (b.priority < a.priority ? b : a));
    kept = kept.filter((g) => g !== lowest);
  }
  return kept.map(({ id, width: w, cellWidths }) => ({ id, width: w, cellWidths }));
}

function InterfaceLine({ line, groups }: { line: HeaderLine; groups: HeaderGroup[] }) {
  return (
    <Box columnGap={GROUP_GAP}>
      {groups.map((group, index) => {
        const content = line.groups[group.id];
        // The last group may be cut (a terminal narrower than the name and one group).
        const shrink = index === groups.length - 1 ? 1 : 0;
        if (content && 'span' in content) {
          return (
            <Box key={group.id} width={group.width} flexShrink={shrink}>
              <Text wrap="truncate-end">{content.span}</Text>
            </Box>
          );
        }
        return (
          <Box key={group.id} width={group.width} flexShrink={shrink} columnGap={CELL_GAP} overflow="hidden">
            {group.cellWidths.map((cellWidth, i) => (
              <Box key={i} width={cellWidth} flexShrink={0}>
                <Text wrap="truncate-end">{content?.cells[i] ?? ''}</Text>
              </Box>
            ))}
          </Box>
        );
      })}
    </Box>
  );
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
  sort: ScreenSort;
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

export interface LiveHeaderProps {
  interfaces: InterfaceUsage[];
  /** Interfaces with traffic that the capture does not see (lo, unless named). */
  uncaptured?: UncapturedInterfaceUsage[];
  status: SessionStatus;
  paused: boolean;
  unit: RateUnit;
  width: number;
}

export function LiveHeader({ interfaces, uncaptured = [], status, paused, unit, width }: LiveHeaderProps) {
  const statusWidth = paused ? width - PAUSED.length - 2 : width;
  const lines = [...interfaces.map((i) => capturedLine(i, unit)), ...uncaptured.map((u) => uncapturedLine(u, unit))];
  const groups = headerGroups(lines, width);
  return (
    <Box flexDirection="column" width={width}>
      {lines.map((line) => (
        <InterfaceLine key={line.name} line={line} groups={groups} />
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
