// The connections view (and a process's own connections): one row per socket record.

import { amountCells, amountColumns } from './amount-columns.js';
import type { ColumnSpec } from './columns.js';
import { fitColumns } from './columns.js';
import type { TableSettings } from './table.js';
import { Table } from './table.js';
import type { ConnectionRow } from './view-rows.js';

export function connectionColumns(settings: TableSettings, showOwner: boolean): ColumnSpec[] {
  const owner: ColumnSpec[] = showOwner
    ? [
        { id: 'pid', title: 'PID', width: 7, align: 'right', dropRank: 5 },
        { id: 'program', title: 'PROGRAM', width: 12, dropRank: 4 },
      ]
    : [];
  return [
    { id: 'protocol', title: 'PROTO', width: 5, dropRank: 3 },
    { id: 'local', title: 'LOCAL', width: 21, dropRank: 1 },
    { id: 'remote', title: 'REMOTE', width: 14, flex: true },
    ...owner,
    ...amountColumns(settings.measure, settings.sort, 2),
  ];
}

export function ConnectionTable({ rows, settings, showOwner }: { rows: ConnectionRow[]; settings: TableSettings; showOwner: boolean }) {
  const columns = fitColumns(connectionColumns(settings, showOwner), settings.width);
  return (
    <Table
      columns={columns}
      height={settings.height}
      empty="no connections"
      rows={rows.map((c) => ({
        key: c.key,
        cells: {
          protocol: c.protocol,
          local: c.local,
          remote: c.remote,
          pid: c.pid === null ? '-' : String(c.pid),
          program: c.name ?? 'unknown',
          ...amountCells(c, settings.unit),
        },
      }))}
    />
  );
}
