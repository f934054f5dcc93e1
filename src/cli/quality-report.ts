// `netmeter report --quality [--month [YYYY-MM]]`: the provider report over the speed test
// results the alert engine judged (src/alerts/quality-report.ts), as a table, Markdown to
// attach to a complaint, or JSON.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { loadAlertsConfig } from '../alerts/secrets.js';
import { AlertOutbox } from '../alerts/outbox.js';
import { buildQualityReport, renderQualityMarkdown, renderQualityText } from '../alerts/quality-report.js';
import { addMonths, formatMonth, monthStart, parseDateTime, parseMonth } from '../history/calendar.js';
import { closeHistory, openHistoryForReading } from '../history/database.js';
import { SCHEMA_VERSION } from '../history/schema.js';
import { defaultConfigPath, reportDatabasePath } from '../history/paths.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

export const QUALITY_HELP = `Usage: netmeter report --quality [--month [YYYY-MM]] [--json | --markdown]

Per connection, IP family and server: median download and upload as a share of the plan,
the speed met in 80% of tests, evening (19-23 h) beside off-peak, latency idle and under
load, failed tests, incidents and their total duration (docs/alerts.md).

  --month [YYYY-MM]    the month (default: this month)
  --json               one JSON document
  --markdown           Markdown, to attach to a complaint or compare providers
  --db PATH, --config PATH   as for netmeter report
`;

export async function runQualityReport(argv: string[], io: CommandIo): Promise<number> {
  const args = argv.map((a, i) => (a === '--month' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('-')) ? '--month=' : a));
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      month: { type: 'string' },
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      db: { type: 'string' },
      config: { type: 'string' },
      now: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(QUALITY_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.json && values.markdown) throw new UsageError('give --json or --markdown, not both');
  const now = values.now === undefined ? Date.now() / 1000 : /^@\d+$/.test(values.now) ? Number(values.now.slice(1)) : parseDateTime(values.now);
  if (now === undefined) throw new UsageError(`--now: '${values.now}' is not YYYY-MM-DD HH:MM or @SECONDS`);
  const month = values.month === undefined || values.month === '' ? monthStart(now) : parseMonth(values.month);
  if (month === undefined) throw new UsageError(`--month: '${values.month}' is not a month (YYYY-MM)`);
  const context = { uid: process.getuid?.() ?? -1, env: process.env, home: homedir() };
  const { config, warnings } = loadAlertsConfig(values.config ?? defaultConfigPath(context, existsSync), values.config !== undefined);
  for (const w of warnings) io.stderr.write(`netmeter: ${w}\n`);
  const db = openHistoryForReading(values.db ?? reportDatabasePath(context, existsSync), { needsVersion: SCHEMA_VERSION });
  try {
    const outbox = new AlertOutbox(db);
    const since = month * 1000;
    const until = addMonths(month, 1) * 1000;
    const report = buildQualityReport({
      measurements: outbox.speedResults(since, until),
      incidents: outbox.incidents({ since }),
      connections: config.connections,
      since,
      until,
      label: formatMonth(month),
      ...(config.timeZone === undefined ? {} : { timeZone: config.timeZone }),
    });
    if (values.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else if (values.markdown) io.stdout.write(renderQualityMarkdown(report));
    else io.stdout.write(renderQualityText(report));
  } finally {
    closeHistory(db);
  }
  return 0;
}
