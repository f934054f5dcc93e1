// `netmeter report`: the recorded history — today by application, or a day, a month or any
// range, by application, user, interface, day, hour or month — as a table (with --graph,
// bars like vnstat's), JSON or CSV, with cost and quota from the config file. Opens the
// database read-only, so any user who may read it can run it.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { addDays, addMonths, dayStart, formatDay, formatMonth, monthStart, parseDateTime, parseDay, parseMonth } from '../history/calendar.js';
import { loadConfig } from '../config/config-file.js';
import { closeHistory, openHistoryForReading, withSqliteErrors } from '../history/database.js';
import { SCHEMA_VERSION } from '../history/schema.js';
import { defaultConfigPath, reportDatabasePath } from '../history/paths.js';
import { DIMENSIONS, type Dimension } from '../history/queries.js';
import { OPEN_END, OPEN_START, buildHistoryReport, type ReportRequest } from '../history/report-document.js';
import { renderHistoryCsv, renderHistoryTable } from '../present/history-report-format.js';
import { parsePositiveInteger } from './options.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';
import { HELP_OPTION, parseCommandLine, renderHelp, type CommandSpec } from './command-line.js';

export const REPORT_COMMAND = {
  name: 'report',
  synopsis: 'report [options]',
  summary: 'usage history by application, day, month; cost',
  description: 'Shows the recorded history (see netmeter daemon): today by application unless told otherwise.',
  operands: 'none',
  options: [
    { group: 'Range (one of):', name: 'day', type: 'string', value: 'DATE', complete: ['today', 'yesterday'], help: 'one day: YYYY-MM-DD, today or yesterday' },
    { name: 'month', type: 'string', value: '[YYYY-MM]', help: 'one month (default: this month)' },
    { name: 'since', type: 'string', value: 'WHEN', help: "from WHEN: YYYY-MM-DD, 'YYYY-MM-DD HH:MM', or an age like 7d or 12h" },
    { name: 'until', type: 'string', value: 'WHEN', help: 'up to WHEN (a date alone includes that whole day)' },
    { group: 'Rows:', name: 'by', type: 'string', value: 'KEY', complete: DIMENSIONS, help: 'app, user, host (subscriber: daemon --by host), interface, day,\nhour or month (default app; day with --graph)' },
    { name: 'top', type: 'string', value: 'N', help: 'only the N largest rows' },
    { name: 'app', type: 'string', value: 'NAME', help: 'only this application' },
    { name: 'interface', short: 'i', type: 'string', value: 'IF', complete: 'interface', help: 'only traffic on IF' },
    { group: 'Output:', name: 'quality', type: 'boolean', help: 'the provider report from speed tests (netmeter report --quality --help)' },
    { name: 'speed', type: 'boolean', help: 'the stored speed tests instead (default: the last 30 days; see docs/speedtest.md)' },
    { name: 'graph', type: 'boolean', help: 'bars per day (per hour for a single day) in the terminal; alone: the last 30 days' },
    { name: 'json', type: 'boolean', help: 'the report as one JSON document' },
    { name: 'csv', type: 'boolean', help: 'the rows as CSV' },
    { group: 'Files:', name: 'db', type: 'string', value: 'PATH', complete: 'file', help: 'the history database (default: yours, else /var/lib/netmeter/netmeter.db)' },
    { name: 'config', type: 'string', value: 'PATH', complete: 'file', help: 'price, quota and billing day (default /etc/netmeter/config.json; see docs/history.md)' },
    // For tests and for looking back: the moment taken as "now" (YYYY-MM-DD HH:MM[:SS] or @SECONDS).
    { name: 'now', type: 'string', value: 'WHEN', hidden: true, help: 'the moment taken as now' },
    HELP_OPTION,
  ],
} as const satisfies CommandSpec;

export const REPORT_HELP = renderHelp(REPORT_COMMAND);

export async function runReport(argv: string[], io: CommandIo): Promise<number> {
  // The provider report has options of its own (src/cli/quality-report.ts).
  if (argv.includes('--quality')) return (await import('./quality-report.js')).runQualityReport(argv.filter((a) => a !== '--quality'), io);
  const { values, positionals } = parseCommandLine(REPORT_COMMAND, withOptionalMonth(argv));
  if (values.help) {
    io.stdout.write(REPORT_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.json && values.csv) throw new UsageError('give --json or --csv, not both');
  if (values.graph && (values.json || values.csv)) throw new UsageError('--graph draws in the terminal: leave out --json and --csv');
  const ranges = [values.day !== undefined, values.month !== undefined, values.since !== undefined || values.until !== undefined].filter(Boolean).length;
  if (ranges > 1) throw new UsageError('give one of --day, --month, or --since/--until');
  if (values.by !== undefined && !DIMENSIONS.includes(values.by as Dimension)) {
    throw new UsageError(`--by: '${values.by}' is not one of ${DIMENSIONS.join(', ')}`);
  }
  const top = parsePositiveInteger('top', values.top);
  const now = values.now === undefined ? Math.floor(Date.now() / 1000) : parseNow(values.now);

  if (values.speed && (values.by !== undefined || values.app !== undefined || top !== undefined)) throw new UsageError('--speed lists tests: --by, --app and --top do not apply');
  // Speed tests are few: without a range, the last 30 days (as --graph).
  const range = chooseRange({ ...values, graph: values.graph || values.speed }, now);
  const by: Dimension = (values.by as Dimension | undefined) ?? (values.graph ? (range.until - range.since <= 25 * 3600 ? 'hour' : 'day') : 'app');

  const context = { uid: process.getuid?.() ?? -1, env: process.env, home: homedir() };
  const configPath = values.config ?? defaultConfigPath(context, existsSync);
  const configFile = loadConfig(configPath, values.config !== undefined);
  const config = configFile.history;
  const path = values.db ?? reportDatabasePath(context, existsSync);
  // Speed tests, and subscribers, live in tables or columns a history of an older format lacks.
  const db = openHistoryForReading(path, values.speed || by === 'host' ? { needsVersion: SCHEMA_VERSION } : {});
  try {
    if (values.speed) {
      const { buildSpeedReport, renderSpeedCsv, renderSpeedTable } = await import('../speedtest/speed-report.js');
      const speedConfig = configFile.speedtest;
      const only = values.interface !== undefined ? { interface: values.interface } : {};
      const report = withSqliteErrors(path, 'read', () => buildSpeedReport(db, range, speedConfig, only));
      if (values.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else if (values.csv) io.stdout.write(renderSpeedCsv(report));
      else io.stdout.write(renderSpeedTable(report, { graph: values.graph, width: (io.stdout as { columns?: number }).columns ?? 100 }));
      return 0;
    }
    const request: ReportRequest = {
      range,
      by,
      filter: { ...(values.app !== undefined ? { app: values.app } : {}), ...(values.interface !== undefined ? { interface: values.interface } : {}) },
      ...(top !== undefined ? { top } : {}),
      now,
      config,
      configPath,
    };
    const report = withSqliteErrors(path, 'read', () => buildHistoryReport(db, path, request));
    if (values.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else if (values.csv) io.stdout.write(renderHistoryCsv(report));
    else io.stdout.write(renderHistoryTable(report, { graph: values.graph, width: (io.stdout as { columns?: number }).columns ?? 100 }));
  } finally {
    closeHistory(db);
  }
  return 0;
}

/** `--month` may stand alone (this month): give it an empty value when no YYYY-MM follows. */
function withOptionalMonth(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg === '--month' && (next === undefined || next.startsWith('-'))) out.push('--month=');
    else out.push(arg);
  }
  return out;
}

interface RangeValues {
  day?: string | undefined;
  month?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  graph?: boolean | undefined;
}

function chooseRange(values: RangeValues, now: number): ReportRequest['range'] {
  if (values.day !== undefined) {
    const text = values.day.trim();
    const day = text === 'today' ? dayStart(now) : text === 'yesterday' ? addDays(now, -1) : parseDay(text);
    if (day === undefined) throw new UsageError(`--day: '${values.day}' is not a date (YYYY-MM-DD, today or yesterday)`);
    return { since: day, until: addDays(day, 1), label: formatDay(day) };
  }
  if (values.month !== undefined) {
    const month = values.month === '' ? monthStart(now) : parseMonth(values.month);
    if (month === undefined) throw new UsageError(`--month: '${values.month}' is not a month (YYYY-MM)`);
    return { since: month, until: addMonths(month, 1), label: formatMonth(month) };
  }
  if (values.since !== undefined || values.until !== undefined) {
    const since = values.since === undefined ? OPEN_START : parseWhen('since', values.since, now, false);
    const until = values.until === undefined ? OPEN_END : parseWhen('until', values.until, now, true);
    if (until <= since) throw new UsageError('--until must be later than --since');
    const label = [values.since !== undefined ? `since ${values.since}` : '', values.until !== undefined ? `until ${values.until}` : ''].filter(Boolean).join(' ');
    return { since, until, label };
  }
  if (values.graph) return { since: addDays(now, -29), until: addDays(now, 1), label: 'the last 30 days' };
  return { since: dayStart(now), until: addDays(now, 1), label: `today (${formatDay(now)})` };
}

/** A date (an --until date includes its whole day), a local date and time, or an age before now (7d, 12h, 30m). */
function parseWhen(name: string, text: string, now: number, endOfDay: boolean): number {
  const day = parseDay(text);
  if (day !== undefined) return endOfDay ? addDays(day, 1) : day;
  const instant = parseDateTime(text);
  if (instant !== undefined) return instant;
  const age = /^(\d+)(m|h|d)$/.exec(text.trim());
  if (age) return now - Number(age[1]) * { m: 60, h: 3600, d: 86400 }[age[2] as 'm' | 'h' | 'd'];
  throw new UsageError(`--${name}: '${text}' is not a date (YYYY-MM-DD), a date and time ('YYYY-MM-DD HH:MM') or an age (7d, 12h)`);
}

function parseNow(text: string): number {
  const seconds = /^@(\d+)$/.exec(text.trim());
  const t = seconds ? Number(seconds[1]) : parseDateTime(text) ?? parseDay(text);
  if (t === undefined) throw new UsageError(`--now: '${text}' is not a date and time ('YYYY-MM-DD HH:MM') or @SECONDS`);
  return t;
}
