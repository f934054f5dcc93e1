// Every command's option table, for what is made from all of them at once: the man page and
// the shell completion. Loading it loads every command's module; main.ts never does.

import type { CommandSpec } from './command-line.js';
import { DAEMON_COMMAND } from './daemon.js';
import { LIVE_COMMAND } from './live.js';
import { MAIN_COMMAND } from './main-command.js';
import { RECORD_COMMAND } from './record.js';
import { REPLAY_COMMAND } from './replay.js';
import { REPORT_COMMAND } from './report.js';
import { SNAPSHOT_COMMAND } from './snapshot.js';

/**
 * netmeter itself first, then the commands that have a table. The speed test and alerts
 * commands still declare their options in their own modules: the man page and the
 * completion list them by name (their --help has the options) until they join here.
 */
export function commandTables(): CommandSpec[] {
  return [MAIN_COMMAND, LIVE_COMMAND, REPLAY_COMMAND, RECORD_COMMAND, SNAPSHOT_COMMAND, DAEMON_COMMAND, REPORT_COMMAND];
}
