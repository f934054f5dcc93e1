// A fixed-width table for the live screen: a title row and at most `height` lines of rows,
// each cell cut to its column with '…' so no line wraps. Scrolls to keep the selected row
// visible, and says how many rows are out of sight above and below.

import { Box, Text } from 'ink';
import type { RateUnit } from './amount-columns.js';
import type { Column } from './columns.js';
import { COLUMN_GAP, truncate } from './columns.js';
import type { Measure, ScreenSort } from './view-rows.js';

/** What every view's table needs besides its rows: the space it has and how numbers read. */
export interface TableSettings {
  width: number;
  /** Lines for rows, below the title row. */
  height: number;
  measure: Measure;
  sort: ScreenSort;
  unit: RateUnit;
}

export interface TableRow {
  key: string;
  cells: Record<string, string>;
  dim?: boolean;
  selected?: boolean;
}

export interface TableProps {
  columns: Column[];
  rows: TableRow[];
  /** Lines available for rows, below the title row. */
  height: number;
  empty?: string;
}

interface LineStyle {
  bold?: boolean;
  dim?: boolean;
  selected?: boolean;
}

function Cell({ column, text, style }: { column: Column; text: string; style: LineStyle }) {
  return (
    <Box width={column.width} flexShrink={0} justifyContent={column.align === 'right' ? 'flex-end' : 'flex-start'}>
      <Text bold={style.bold || style.selected} dimColor={style.dim} color={style.selected ? 'whiteBright' : undefined} wrap="truncate-end">
        {truncate(text, column.width)}
      </Text>
    </Box>
  );
}

function Line({ columns, cells, style }: { columns: Column[]; cells: Record<string, string>; style: LineStyle }) {
  return (
    <Box columnGap={COLUMN_GAP} backgroundColor={style.selected ? 'blue' : undefined}>
      {columns.map((column) => (
        <Cell key={column.id} column={column} text={cells[column.id] ?? ''} style={style} />
      ))}
    </Box>
  );
}

/** The last line of a clipped table: how many rows are out of sight, and on which side. */
export function hiddenText(above: number, below: number): string {
  if (below === 0) return `… ${above} more above`;
  return above === 0 ? `… ${below} more` : `… ${below} more, ${above} above`;
}

/** The first row to show so that the selected row is inside the window. */
export function scrollOffset(rows: TableRow[], visible: number): number {
  const selected = rows.findIndex((r) => r.selected);
  return selected < visible ? 0 : selected - visible + 1;
}

export function Table({ columns, rows, height, empty }: TableProps) {
  const titles = Object.fromEntries(columns.map((c) => [c.id, c.title]));
  const clipped = rows.length > height;
  // Keep the last line for "… N more" when rows are cut.
  const visible = clipped ? Math.max(0, height - 1) : rows.length;
  const offset = scrollOffset(rows, visible);
  const shown = rows.slice(offset, offset + visible);
  const above = offset;
  const below = rows.length - offset - shown.length;
  return (
    <Box flexDirection="column">
      <Line columns={columns} cells={titles} style={{ bold: true }} />
      {rows.length === 0 && empty ? (
        <Text dimColor wrap="truncate-end">
          {empty}
        </Text>
      ) : null}
      {shown.map((row) => (
        <Line key={row.key} columns={columns} cells={row.cells} style={{ dim: row.dim, selected: row.selected }} />
      ))}
      {clipped && height > 0 ? (
        <Text dimColor wrap="truncate-end">
          {hiddenText(above, below)}
        </Text>
      ) : null}
    </Box>
  );
}
