// The applications view: the processes of one program summed, with how many there are.

import { amountCells, amountColumns } from './amount-columns.js';
import type { ColumnSpec } from './columns.js';
import { fitColumns } from './columns.js';
import { programText } from './cell-text.js';
import type { TableSettings } from './table.js';
import { Table } from './table.js';
import type { ApplicationRow } from './view-rows.js';

export function applicationColumns(settings: TableSettings): ColumnSpec[] {
  return [
    { id: 'pids', title: 'PIDS', width: 4, align: 'right' },
    { id: 'user', title: 'USER', width: 8, dropRank: 1 },
    { id: 'program', title: 'PROGRAM', width: 16, flex: true },
    ...amountColumns(settings.measure, settings.sort, 2),
  ];
}

export function ApplicationTable({ rows, settings }: { rows: ApplicationRow[]; settings: TableSettings }) {
  const columns = fitColumns(applicationColumns(settings), settings.width);
  return (
    <Table
      columns={columns}
      height={settings.height}
      empty="no traffic yet"
      rows={rows.map((a) => ({
        key: a.key,
        dim: a.exited,
        cells: {
          pids: String(a.pids.length),
          user: a.user ?? '*',
          program: programText(a.name, a.exe ?? a.cmdline, a.exited),
          ...amountCells(a, settings.unit),
        },
      }))}
    />
  );
}
