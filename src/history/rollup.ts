// Retention: minute rows older than a week become hour rows, hour rows older than 90 days
// become day rows, day rows stay (all configurable) — in one transaction that inserts the
// sums and deletes what they sum, so no total changes and a crash leaves either the fine
// rows or the coarse ones, never both or neither.

import type { HistoryDb } from './database.js';
import { dayStart, hourStart } from './calendar.js';

export interface Retention {
  /** How long minute rows are kept (seconds) before they are summed into hours. */
  minuteSeconds: number;
  /** How long hour rows are kept before they are summed into days. */
  hourSeconds: number;
  /** How long day rows are kept; null: forever. */
  daySeconds: number | null;
}

export const DEFAULT_RETENTION: Retention = { minuteSeconds: 7 * 86400, hourSeconds: 90 * 86400, daySeconds: null };

export interface RollUpResult {
  minuteRowsRolled: number;
  hourRowsRolled: number;
  dayRowsDeleted: number;
}

const USAGE = { key: 'series', columns: ['sent_bytes', 'received_bytes', 'sent_packets', 'received_packets'] };
const KERNEL = { key: 'interface', columns: ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets'] };

/**
 * Moves rows from `from` into `into`, grouped by `bucket` (an SQL function of start), for
 * every row that starts before `cutoff`. Returns how many fine rows went.
 */
function moveRows(db: HistoryDb, table: 'usage' | 'kernel', from: string, into: string, bucket: string, cutoff: number): number {
  const { key, columns } = table === 'usage' ? USAGE : KERNEL;
  const sums = columns.map((c) => `SUM(${c})`).join(', ');
  const updates = columns.map((c) => `${c} = ${c} + excluded.${c}`).join(', ');
  db.prepare(`INSERT INTO ${table}_${into} (start, ${key}, ${columns.join(', ')})
    SELECT ${bucket}(start) AS period, ${key}, ${sums} FROM ${table}_${from} WHERE start < ? GROUP BY period, ${key}
    ON CONFLICT (start, ${key}) DO UPDATE SET ${updates}`).run(cutoff);
  return db.prepare(`DELETE FROM ${table}_${from} WHERE start < ?`).run(cutoff).changes;
}

/**
 * Rolls up what is older than the retention allows, as of `now` (seconds). Cutoffs fall on
 * whole hours and days, so an hour's minutes are summed once, not in two pieces.
 */
export function rollUp(db: HistoryDb, now: number, retention: Retention = DEFAULT_RETENTION): RollUpResult {
  const minuteCutoff = hourStart(now - retention.minuteSeconds);
  const hourCutoff = dayStart(now - retention.hourSeconds);
  const result: RollUpResult = { minuteRowsRolled: 0, hourRowsRolled: 0, dayRowsDeleted: 0 };
  db.transaction(() => {
    for (const table of ['usage', 'kernel'] as const) {
      result.minuteRowsRolled += moveRows(db, table, 'minute', 'hour', 'nm_hour', minuteCutoff);
      result.hourRowsRolled += moveRows(db, table, 'hour', 'day', 'nm_day', hourCutoff);
      if (retention.daySeconds !== null) {
        // The one deliberate loss: history older than the configured limit.
        result.dayRowsDeleted += db.prepare(`DELETE FROM ${table}_day WHERE start < ?`).run(dayStart(now - retention.daySeconds)).changes;
      }
    }
  }).immediate();
  return result;
}
