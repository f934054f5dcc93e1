// Which table columns fit a terminal width, and how wide each one is: columns are dropped
// whole, in a fixed order, rather than letting a line wrap. Pure.

export const COLUMN_GAP = 1;

export interface ColumnSpec {
  id: string;
  title: string;
  /** Fixed width, or the least width of the flexible column. */
  width: number;
  align?: 'left' | 'right';
  /** The flexible column takes whatever width the others leave (at most one per table). */
  flex?: boolean;
  /** When the width is short, columns go in ascending rank (equal ranks together); without a rank a column stays. */
  dropRank?: number;
}

export interface Column extends ColumnSpec {
  align: 'left' | 'right';
}

function needed(columns: ColumnSpec[]): number {
  return columns.reduce((sum, c) => sum + c.width, 0) + COLUMN_GAP * Math.max(0, columns.length - 1);
}

/** The columns that fit `totalWidth`, in their original order, with final widths; their widths and gaps never exceed it. */
export function fitColumns(specs: readonly ColumnSpec[], totalWidth: number): Column[] {
  let kept = [...specs];
  while (needed(kept) > totalWidth) {
    const ranks = kept.flatMap((c) => (c.dropRank === undefined ? [] : [c.dropRank]));
    if (ranks.length === 0) break;
    const lowest = Math.min(...ranks);
    kept = kept.filter((c) => c.dropRank !== lowest);
  }
  const columns: Column[] = kept.map((c) => ({ ...c, align: c.align ?? 'left' }));
  let spare = totalWidth - needed(columns);
  const flex = columns.find((c) => c.flex);
  if (flex) {
    const width = Math.max(1, flex.width + spare);
    spare -= width - flex.width;
    flex.width = width;
  }
  // Still too wide (a tiny terminal): narrow the widest columns a character at a time.
  while (spare < 0 && columns.length > 0) {
    const widest = columns.reduce((a, b) => (b.width > a.width ? b : a));
    if (widest.width <= 1) break;
    widest.width--;
    spare++;
  }
  return columns;
}

/** Cuts text to `width` characters, ending with '…' when something was cut. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 0) return '';
  return chars.slice(0, width - 1).join('').trimEnd() + '…';
}

export interface Segment {
  text: string;
  /** Higher stays longer: when the line is short, the lowest-priority segments go first. */
  priority: number;
}

/** The segments that fit `width` with `gap` characters between them, leaving out the least important first; in their order. */
export function segmentsToFit(segments: readonly Segment[], width: number, gap: number): Segment[] {
  let kept = [...segments];
  const length = () => kept.reduce((sum, s) => sum + [...s.text].length, 0) + gap * Math.max(0, kept.length - 1);
  while (kept.length > 1 && length() > width) {
    const lowest = kept.reduce((a, b) => (b.priority < a.priority ? b : a));
    kept = kept.filter((s) => s !== lowest);
  }
  return kept;
}

/** Joins segments with two spaces, leaving out the least important ones until the line fits `width`. */
export function joinToFit(segments: readonly Segment[], width: number): string {
  return truncate(segmentsToFit(segments, width, 2).map((s) => s.text).join('  '), width);
}

/** The width a column needs for its title and cells, capped at `max`. */
export function contentWidth(title: string, cells: readonly string[], max: number): number {
  return Math.min(max, Math.max([...title].length, ...cells.map((c) => [...c].length)));
}
