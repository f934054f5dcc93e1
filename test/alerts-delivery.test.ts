// Delivery against real receivers started by the test on loopback: a webhook answering 500,
// hanging, then OK; an SMTP server down, refusing, then accepting (with the password read
// from a file); a push topic; a command; and a process killed with SIGKILL while messages
// are pending, whose messages arrive after the restart — a repeat only with the same event
// id. Every attempt is one log line, and no secret is in a log, the database or a message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { channelFor } from '../src/alerts/channels/channel.js';
import { parseAlertsConfig } from '../src/alerts/config.js';
import { AlertEngine } from '../src/alerts/engine.js';
import { Notifier } from '../src/alerts/notifier.js';
import { AlertOutbox } from '../src/alerts/outbox.js';
import type { Decision } from '../src/alerts/types.js';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { HttpReceiver, SmtpReceiver } from './alerts/receivers.js';

const T0 = Date.UTC(2026, 11, 1, 8);
const HOUR = 3_600_000;
const PASSWORD = 'pw-Secret-4711';
const TOKEN = 'tok-Secret-0815';

/** RFC 2047 encoded words (nodemailer folds long subjects into them), decoded and joined. */
function decodeHeaders(text: string): string {
  return text.replace(/(=\?UTF-8\?Q\?[^?]*\?=\s*)+/gi, (run) =>
    [...run.matchAll(/=\?UTF-8\?Q\?([^?]*)\?=/gi)].map((m) => m[1]!.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16)))).join('') + ' ');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Three hours at 20 of 100 Mbit/s (with the retests asked for), then three at 95. */
function incident(engine: AlertEngine): Decision[] {
  const out: Decision[] = [];
  for (let i = 0; i < 6; i++) {
    const mbps = i < 3 ? 20 : 95;
    const at = T0 + i * HOUR;
    const pending = [{ at, server: 'speed-a.example', family: 'ipv4' as const, interface: 'eth0', downloadMbps: mbps, latencyMs: 12, failed: false, contended: false }];
    while (pending.length) {
      const m = pending.shift()!;
      for (const d of engine.observeSpeed(m)) {
        out.push(d);
        if (d.kind === 'retest') pending.push({ ...m, at: d.at, server: d.server ?? m.server, retest: true } as typeof m & { retest: boolean });
      }
    }
  }
  return out;
}

test('webhook, email, push and command: faults are retried with backoff, one log line each, nothing lost, no secret leaks', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-delivery-'));
  const webhook = await new HttpReceiver().start();
  const push = await new HttpReceiver().start();
  const smtpPort = await freePort();
  let smtp: SmtpReceiver | undefined;
  const db = openHistoryForWriting(join(dir, 'history.db'));
  t.after(async () => {
    closeHistory(db);
    await webhook.stop();
    await push.stop();
    await smtp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'smtp-password'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const script = join(dir, 'on-alert.sh');
  writeFileSync(script, `#!/bin/sh\ncat >> ${dir}/command-stdin.jsonl\nenv | grep ^NETMETER_ | sort >> ${dir}/command-env.txt\n`);
  chmodSync(script, 0o755);
  const config = parseAlertsConfig({
    connections: [{ name: 'home', interface: 'eth0', provider: 'Example ISP', downloadMbps: 100, uploadMbps: 40 }],
    servers: ['speed-a.example', 'speed-b.example'],
    detectors: [{ type: 'speed', direction: 'download', below: { planShare: 0.6 }, recoverAbove: { planShare: 0.7 } }],
    channels: [
      { type: 'webhook', url: `${webhook.url}/hook`, tokenFile: join(dir, 'token') },
      { type: 'email', to: 'support@isp.example', from: 'netmeter@home.example', complaint: true, smtp: { host: '127.0.0.1', port: smtpPort, user: 'me', passwordFile: join(dir, 'smtp-password') } },
      { type: 'push', url: `${push.url}/my-topic` },
      { type: 'command', command: [script] },
    ],
  }, 'test');
  const engine = new AlertEngine(config);
  const outbox = new AlertOutbox(db);
  let now = T0 + 2 * HOUR;
  const logs: string[] = [];
  const notifier = new Notifier(outbox, config.channels.map((c) => channelFor(c, config, { timeoutMs: 2000 })), config.channels, { now: () => now, log: (l) => logs.push(l) });

  const decisions = incident(engine);
  const events = decisions.flatMap((d) => (d.kind === 'notify' ? [d.event] : []));
  assert.deepEqual(events.map((e) => e.kind), ['open', 'recovery']);
  outbox.record(decisions, config.channels.map((c) => c.name), now);
  assert.equal(outbox.pending().length, 8, 'two messages for four channels');

  // Round 1: the webhook answers 500, SMTP is down; push and the command take theirs.
  webhook.mode = '500';
  assert.equal(await notifier.drain(), 4, logs.join('\n'));
  assert.equal(push.accepted.length, 2);
  assert.ok(logs.some((l) => /^alerts: could not deliver \S+-open \(open home ipv4 download\) via webhook \(attempt 1\): POST http:\/\/127\.0\.0\.1:\d+\/hook: HTTP 500 internal error; next try in 30 s$/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /^alerts: could not deliver \S+-open .* via email \(attempt 1\): SMTP 127\.0\.0\.1:\d+: E[A-Z]+ .*ECONNREFUSED.*; next try in 30 s$/.test(l)), logs.join('\n'));
  // Not due yet: nothing is tried.
  const before = webhook.requests.length;
  assert.equal(await notifier.drain(), 0);
  assert.equal(webhook.requests.length, before);

  // Round 2, 30 s on: the webhook hangs, SMTP refuses.
  now += 30_000;
  webhook.mode = 'hang';
  smtp = await new SmtpReceiver(PASSWORD).start(smtpPort);
  smtp.mode = 'refuse';
  assert.equal(await notifier.drain(), 0);
  assert.ok(logs.some((l) => /via webhook \(attempt 2\): POST .*: no answer within 2 s; next try in 60 s$/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /via email \(attempt 2\): SMTP .*451.*mailbox unavailable, try later; next try in 60 s$/.test(l)), logs.join('\n'));

  // Round 3, 60 s on: both take them.
  now += 60_000;
  webhook.mode = 'ok';
  smtp.mode = 'ok';
  assert.equal(await notifier.drain(), 4);
  assert.equal(outbox.pending().length, 0);

  // The webhook: every attempt of one message carried the same Idempotency-Key; one accepted per event.
  assert.deepEqual(webhook.accepted.map((r) => r.headers['idempotency-key']), events.map((e) => e.id));
  const openAttempts = webhook.requests.filter((r) => JSON.parse(r.body).kind === 'open');
  assert.equal(openAttempts.length, 3);
  assert.ok(openAttempts.every((r) => r.headers['idempotency-key'] === events[0]!.id));
  assert.equal(webhook.accepted[0]!.headers.authorization, `Bearer ${TOKEN}`);
  const document = JSON.parse(webhook.accepted[0]!.body);
  assert.equal(document.id, events[0]!.id);
  assert.equal(document.incident.planMbps, 100);
  assert.equal(document.incident.connection, 'home');

  // Email: the complaint to the provider, Message-ID from the event id; the recovery in the same thread.
  assert.equal(smtp.mails.length, 2);
  const [openMail, recoveryMail] = smtp.mails.map((m) => {
    const split = m.raw.indexOf('\r\n\r\n');
    return `${decodeHeaders(m.raw.slice(0, split).replace(/\r\n\s+/g, ' '))}\n\n${m.raw.slice(split + 4).replace(/=\r\n/g, '')}`;
  });
  assert.deepEqual(smtp.mails[0]!.to, ['support@isp.example']);
  assert.match(openMail!, new RegExp(`Message-ID: <${events[0]!.id}@home\\.example>`, 'i'));
  assert.match(recoveryMail!, new RegExp(`In-Reply-To: <${events[0]!.incident.id}-open@home\\.example>`, 'i'));
  assert.match(openMail!, /Subject: Slow download on connection "home": 20% of the plan since 2026-12-01 08:00 UTC/);
  assert.match(openMail!, /Dear Example ISP,/);
  assert.match(openMail!, /plan 100 Mbit\/s download \/ 40 Mbit\/s upload/);
  assert.match(openMail!, /2026-12-01 08:00 UTC {2}server speed-a\.example {2}20\.0 Mbit\/s \(20% of plan\)/);
  assert.match(openMail!, /server speed-b\.example {2}20\.0 Mbit\/s \(20% of plan\) {2}\[retest\]/);
  assert.match(recoveryMail!, /From 2026-12-01 08:00 UTC to 2026-12-01 13:00 UTC \(5 h\)/);

  // Push: text to the topic; command: JSON on stdin and the details in the environment.
  assert.equal(push.accepted[0]!.path, '/my-topic');
  assert.match(String(push.accepted[0]!.headers.title), /^netmeter: problem: home ipv4 download$/);
  assert.match(push.accepted[0]!.body, /download 20\.0 Mbit\/s from speed-b\.example, 20% of the 100 Mbit\/s plan/);
  const stdin = readFileSync(join(dir, 'command-stdin.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(stdin.map((d) => d.id), events.map((e) => e.id));
  const env = readFileSync(join(dir, 'command-env.txt'), 'utf8');
  assert.match(env, new RegExp(`NETMETER_EVENT_ID=${events[0]!.id}`));
  assert.match(env, /NETMETER_EVENT_KIND=recovery/);

  // One line per attempt; secrets nowhere.
  assert.equal(logs.length, 6 + 2 + 4, logs.join('\n'));
  assert.ok(logs.every((l) => !l.includes('\n')));
  const stored = JSON.stringify(db.prepare('SELECT * FROM alert_delivery').all()) + JSON.stringify(db.prepare('SELECT * FROM alert_incident').all());
  for (const secret of [PASSWORD, TOKEN]) {
    assert.ok(!logs.join('\n').includes(secret));
    assert.ok(!stored.includes(secret));
    assert.ok(!smtp.mails.some((m) => m.raw.includes(secret)));
    assert.ok(!push.requests.some((r) => r.body.includes(secret)));
    assert.ok(!webhook.requests.some((r) => r.body.includes(secret)));
  }
});

test('killed with SIGKILL while messages are pending: after the restart they are delivered, a repeat only with the same event id', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-crash-'));
  const webhook = await new HttpReceiver().start();
  t.after(async () => {
    await webhook.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const dbPath = join(dir, 'history.db');
  const configValue = {
    connections: [{ name: 'home', downloadMbps: 100 }],
    servers: ['a', 'b'],
    detectors: [{ type: 'speed', direction: 'download', below: { planShare: 0.6 } }],
    channels: [{ type: 'webhook', url: `${webhook.url}/hook` }],
  };
  webhook.mode = 'hang';
  const child = spawn(process.execPath, [fileURLToPath(new URL('./alerts/crash-child.js', import.meta.url)), dbPath, JSON.stringify(configValue)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  // Killed while the receiver holds the first message: the child never learns it arrived.
  await new Promise<void>((resolve) => (webhook.onRequest = () => resolve()));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.match(out, /^pending 2\n$/);
  assert.equal(webhook.requests.length, 1);
  const first = webhook.requests[0]!.headers['idempotency-key'];

  webhook.mode = 'ok';
  const db = openHistoryForWriting(dbPath);
  try {
    const config = parseAlertsConfig(configValue, 'test');
    const outbox = new AlertOutbox(db);
    assert.equal(outbox.pending().length, 2, 'both kept across the crash');
    const logs: string[] = [];
    const notifier = new Notifier(outbox, config.channels.map((c) => channelFor(c, config, { timeoutMs: 2000 })), config.channels, { now: () => Date.UTC(2026, 11, 1, 14), log: (l) => logs.push(l) });
    assert.equal(await notifier.drain(), 2);
    assert.equal(logs.length, 2);
    const keys = webhook.accepted.map((r) => r.headers['idempotency-key']);
    assert.equal(keys[0], first, 'the repeat carries the same event id');
    assert.deepEqual(webhook.accepted.map((r) => JSON.parse(r.body).kind), ['open', 'recovery']);
    assert.equal(new Set(webhook.requests.map((r) => r.headers['idempotency-key'])).size, 2, 'no message under a second id');
    assert.equal(await notifier.drain(), 0);
    // The incidents were stored with the messages.
    assert.deepEqual(outbox.incidents().map((i) => i.closedAt !== undefined), [true]);
  } finally {
    closeHistory(db);
  }
});
