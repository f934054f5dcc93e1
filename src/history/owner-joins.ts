// One row per program and per user in a report, where what was recorded splits them:
// - a program whose executable path could not be read (it ended before netmeter read /proc,
//   or it was another user's and netmeter lacked CAP_SYS_PTRACE) is recorded with no path;
//   when the range holds exactly one path for that program name, its rows are that
//   program's and join them. With two or more paths (two python3s) nothing says which, so
//   the row stays apart with no path.
// - a user recorded by uid (history written before names were resolved from one table)
//   joins the row of that uid's name.

import type { UsageRow } from './queries.js';
import type { UserNameOf } from './usage-key.js';
import { addCounts } from './usage-key.js';

function merge(into: UsageRow, row: UsageRow): void {
  addCounts(into, row);
  into.billedBytes += row.billedBytes;
}

/** By-app rows with the pathless ones joined to their program's only path. */
export function joinPathlessPrograms(rows: UsageRow[]): UsageRow[] {
  const paths = new Map<string, UsageRow[]>();
  for (const row of rows) {
    if (!row.exe) continue;
    const list = paths.get(row.app!) ?? [];
    list.push(row);
    paths.set(row.app!, list);
  }
  const out: UsageRow[] = [];
  for (const row of rows) {
    const only = row.exe ? undefined : paths.get(row.app!);
    if (only?.length === 1) merge(only[0]!, row);
    else out.push(row);
  }
  return out;
}

/** By-user rows with a numeric user joined to (or renamed as) its name's row. */
export function joinNumericUsers(rows: UsageRow[], userName: UserNameOf): UsageRow[] {
  const byUser = new Map<string, UsageRow>();
  for (const row of rows) {
    const uid = /^\d+$/.test(row.user ?? '') ? Number(row.user) : undefined;
    const user = (uid === undefined ? undefined : userName(uid)) ?? row.user ?? '';
    const same = byUser.get(user);
    if (same) merge(same, row);
    else byUser.set(user, { ...row, user });
  }
  return [...byUser.values()];
}
