// The processes view: one row per process, exited ones dimmed and marked (in rate mode,
// those gone quiet summed into one row per program).

import { amountCells, amountColumns } from './amount-columns.js';
import type { ColumnSpec } from './columns.js';
import { contentWidth, fitColumns } from './columns.js';
import { pidText, programText } from './cell-text.js';
import type { TableSettings } from './table.js';
import { Table } from './table.js';
import type { ProcessRow } from './view-rows.js';

/** bySubscriber (`--by host`): each row is a subscriber, which has no pid or user. */
export function processColumns(settings: TableSettings, pidWidth: number, bySubscriber = false): ColumnSpec[] {
  if (bySubscriber) return [{ id: 'program', title: 'SUBSCRIBER', width: 16, flex: true }, ...amountColumns(settings.measure, settings.sort, 2)];
  return [
    { id: 'pid', title: 'PID', width: pidWidth, align: 'right' },
    { id: 'user', title: 'USER', width: 8, dropRank: 1 },
    // Wider than a name, so the command line is the first thing to go as the terminal narrows.
    { id: 'program', title: 'PROGRAM', width: 16, flex: true },
    ...amountColumns(settings.measure, settings.sort, 2),
  ];
}

export function ProcessTable({ rows, settings, selectedKey, bySubscriber = false }: { rows: ProcessRow[]; settings: TableSettings; selectedKey: string | null; bySubscriber?: boolean }) {
  const pidWidth = contentWidth('PID', rows.map((p) => pidText(p.pid)), 7);
  const columns = fitColumns(processColumns(settings, pidWidth, bySubscriber), settings.width);
  return (
    <Table
      columns={columns}
      height={settings.height}
      empty="no traffic yet"
      rows={rows.map((p) => ({
        key: p.key,
        dim: p.exited,
        selected: p.key === selectedKey,
        cells: {
          pid: pidText(p.pid),
          user: p.user ?? (p.folded > 0 ? '*' : '-'),
          program: programText(p.name, p.cmdline, p.exited, p.folded),
          ...amountCells(p, settings.unit),
        },
      }))}
    />
  );
}
