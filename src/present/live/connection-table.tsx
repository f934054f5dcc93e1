// The connections view (and a process's own connections): one row per socket record.

import { amountCells, amountColumns } from './amount-columns.js';
import type { ColumnSpec } from './columns.js';
import { contentWidth, fitColumns } from './columns.js';
import { pidText } from './cell-text.js';
import type { TableSettings } from './table.js';
import { Table } from './table.js';
import type { ConnectionRow } from './view-rows.js';

export function connectionColumns(settings: TableSettings, showOwner: boolean, pidWidth: number): ColumnSpec[] {
  const owner: ColumnSpec[] = showOwner
    ? [
        { id: 'pid', title: 'PID', width: pidWidth, align: 'right', dropRank: 4 },
        { id: 'program', title: 'PROGRAM', width: 12, dropRank: 5 },
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
  const pidWidth = contentWidth('PID', rows.map((c) => pidText(c.pid)), 7);
  const columns = fitColumns(connectionColumns(settings, showOwner, pidWidth), settings.width);
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
          pid: pidText(c.pid),
          program: c.name ?? 'unknown',
          ...amountCells(c, settings.unit),
        },
      }))}
    />
  );
}
