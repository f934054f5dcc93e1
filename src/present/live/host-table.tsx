// The remote hosts view: connections grouped by the address at their far end.

import { amountCells, amountColumns } from './amount-columns.js';
import type { ColumnSpec } from './columns.js';
import { fitColumns } from './columns.js';
import type { TableSettings } from './table.js';
import { Table } from './table.js';
import type { HostRow } from './view-rows.js';

export function hostColumns(settings: TableSettings): ColumnSpec[] {
  return [
    { id: 'host', title: 'REMOTE HOST', width: 15, flex: true },
    { id: 'connections', title: 'CONNS', width: 5, align: 'right', dropRank: 3 },
    { id: 'programs', title: 'PROGRAMS', width: 16, dropRank: 1 },
    ...amountColumns(settings.measure, settings.sort, 2),
  ];
}

export function HostTable({ rows, settings }: { rows: HostRow[]; settings: TableSettings }) {
  const columns = fitColumns(hostColumns(settings), settings.width);
  return (
    <Table
      columns={columns}
      height={settings.height}
      empty="no connections"
      rows={rows.map((h) => ({
        key: h.key,
        cells: {
          host: h.remoteName ?? h.remoteAddress,
          connections: String(h.connections),
          programs: h.programs.join(','),
          ...amountCells(h, settings.unit),
        },
      }))}
    />
  );
}
