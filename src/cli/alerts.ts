// `netmeter alerts`: the open and past incidents (--json for scripts); `alerts test` sends a
// test message to every configured channel; `alerts silence` stores a silence the daemon
// honours. Incidents come from the history database the daemon writes (docs/alerts.md).

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { channelFor } from '../alerts/channels/channel.js';
import type { AlertsConfig } from '../alerts/config.js';
import { formatDuration } from '../alerts/message.js';
import { AlertOutbox } from '../alerts/outbox.js';
import { loadAlertsConfig } from '../alerts/secrets.js';
import type { AlertEvent, Incident } from '../alerts/types.js';
import { parseDateTime } from '../history/calendar.js';
import { closeHistory, openHistoryForReading, openHistoryForWriting } from '../history/database.js';
import { SCHEMA_VERSION } from '../history/schema.js';
import { defaultConfigPath, defaultDatabasePath, reportDatabasePath } from '../history/paths.js';
import { parseDuration } from './options.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

export const ALERTS_HELP = `Usage: netmeter alerts [options]
       netmeter alerts test [--config PATH]
       netmeter alerts silence (--for DURATION | --until 'YYYY-MM-DD HH:MM') [--detector NAME] [--reason TEXT]

Lists open incidents and those of the last 30 days (detectors and channels: docs/alerts.md).

Options:
  --all                every past incident, not only the last 30 days
  --json               one JSON document
  --db PATH            the history database (default: yours, else /var/lib/netmeter/netmeter.db)
  --config PATH        the config file (default /etc/netmeter/config.json)
test:     sends a test message to every configured channel; exit 1 if one fails
silence:  holds messages back until then (all detectors, or --detector NAME); the daemon
          sends an incident still open when the silence ends
`;

const DAY = 86_400_000;

export async function runAlerts(argv: string[], io: CommandIo, now: () => number = Date.now): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      for: { type: 'string' },
      until: { type: 'string' },
      detector: { type: 'string' },
      reason: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(ALERTS_HELP);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const context = { uid: process.getuid?.() ?? -1, env: process.env, home: homedir() };
  const configPath = values.config ?? defaultConfigPath(context, existsSync);
  const loaded = () => {
    const { config, warnings } = loadAlertsConfig(configPath, values.config !== undefined);
    for (const w of warnings) io.stderr.write(`netmeter: ${w}\n`);
    return config;
  };
  switch (action) {
    case undefined:
    case 'list':
      return list(values.db ?? reportDatabasePath(context, existsSync), values.json, values.all, now(), io);
    case 'test':
      return sendTests(loaded(), now(), io);
    case 'silence': {
      if ((values.for === undefined) === (values.until === undefined)) throw new UsageError('silence: give --for DURATION (like 2h) or --until \'YYYY-MM-DD HH:MM\'');
      const from = now();
      let until: number;
      if (values.for !== undefined) until = from + parseDuration('for', values.for)! * 1000;
      else {
        const t = parseDateTime(values.until!);
        if (t === undefined) throw new UsageError(`--until: '${values.until}' is not a local date and time (YYYY-MM-DD HH:MM)`);
        until = t * 1000;
      }
      if (until <= from) throw new UsageError('--until: that time has passed');
      const config = loaded();
      if (values.detector !== undefined && !config.detectors.some((d) => d.name === values.detector)) {
        throw new UsageError(`--detector: no detector is named '${values.detector}' (configured: ${config.detectors.map((d) => d.name).join(', ') || 'none'})`);
      }
      const db = openHistoryForWriting(values.db ?? defaultDatabasePath(context));
      try {
        new AlertOutbox(db).addSilence({ from, until, ...(values.detector ? { detector: values.detector } : {}), ...(values.reason ? { reason: values.reason } : {}) }, from);
      } finally {
        closeHistory(db);
      }
      io.stdout.write(`silenced ${values.detector ?? 'all detectors'} until ${new Date(until).toISOString()}\n`);
      return 0;
    }
    default:
      throw new UsageError(`alerts: unknown action '${action}' (list, test or silence)`);
  }
}

function list(path: string, json: boolean, all: boolean, now: number, io: CommandIo): number {
  const db = openHistoryForReading(path, { needsVersion: SCHEMA_VERSION });
  try {
    const outbox = new AlertOutbox(db);
    const incidents = outbox.incidents(all ? {} : { since: now - 30 * DAY });
    const open = incidents.filter((i) => i.closedAt === undefined);
    const past = incidents.filter((i) => i.closedAt !== undefined);
    const pending = outbox.pending();
    const silences = outbox.silences(now);
    if (json) {
      io.stdout.write(`${JSON.stringify({ version: 1, open: open.map(document), past: past.map(document), pendingDeliveries: pending.map((p) => ({ eventId: p.event.id, channel: p.channel, attempts: p.attempts, ...(p.lastError ? { lastError: p.lastError } : {}) })), silences: silences.map((s) => ({ from: new Date(s.from).toISOString(), until: new Date(s.until).toISOString(), ...(s.detector ? { detector: s.detector } : {}), ...(s.reason ? { reason: s.reason } : {}) })) }, null, 2)}\n`);
      return 0;
    }
    const lines: string[] = [];
    lines.push(open.length === 0 ? 'No open incidents.' : `Open incidents (${open.length}):`);
    for (const i of open) lines.push(`  since ${when(i.openedAt)} (${formatDuration(now - i.openedAt)})  ${i.subject}: ${i.summary}`);
    if (past.length > 0) {
      lines.push('', `Past incidents${all ? '' : ', last 30 days'} (${past.length}):`);
      for (const i of past) {
        const length = i.type === 'quota' || i.type === 'projection' ? 'notice' : formatDuration(i.closedAt! - i.openedAt);
        lines.push(`  ${when(i.openedAt)} (${length})  ${i.subject}: ${i.summary}`);
      }
    }
    for (const s of silences) lines.push('', `Silenced ${s.detector ?? 'all detectors'} until ${when(s.until)}${s.reason ? ` (${s.reason})` : ''}.`);
    if (pending.length > 0) {
      const failing = pending.find((p) => p.lastError !== undefined);
      lines.push('', `${pending.length} message(s) waiting for delivery${failing ? `; last error (${failing.channel}): ${failing.lastError}` : ''}.`);
    }
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    closeHistory(db);
  }
}

function document(i: Incident) {
  return {
    id: i.id,
    detector: i.detector,
    type: i.type,
    subject: i.subject,
    openedAt: new Date(i.openedAt).toISOString(),
    ...(i.closedAt === undefined ? {} : { closedAt: new Date(i.closedAt).toISOString(), durationSeconds: Math.round((i.closedAt - i.openedAt) / 1000) }),
    summary: i.summary,
    ...(i.recovery === undefined ? {} : { recovery: i.recovery }),
    ...(i.planMbps === undefined ? {} : { planMbps: i.planMbps }),
    evidence: i.evidence.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
  };
}

async function sendTests(config: AlertsConfig, now: number, io: CommandIo): Promise<number> {
  if (config.channels.length === 0) throw new UsageError('alerts test: no channels are configured (alerts.channels in the config file, see docs/alerts.md)');
  const incident: Incident = { id: `test-${now}`, detector: 'test', series: 'test', type: 'test', subject: 'test message', openedAt: now, closedAt: now, summary: 'a test message from netmeter alerts test', evidence: [] };
  const event: AlertEvent = { id: `test-${now}`, kind: 'test', at: now, incident };
  let failed = 0;
  for (const c of config.channels) {
    try {
      await channelFor(c, config, { timeoutMs: 15_000 }).send(event);
      io.stdout.write(`${c.name} (${c.type}): delivered\n`);
    } catch (error) {
      failed++;
      io.stdout.write(`${c.name} (${c.type}): failed: ${(error as Error).message}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

function when(t: number): string {
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
