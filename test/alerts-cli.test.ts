// `netmeter alerts` as a user runs it (the real CLI in a child process): incidents the
// service stored, --json without secrets, `alerts silence` stored and honoured by the
// service, `alerts test` to a real receiver, and a bad config stopping with one line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAlertsConfig } from '../src/alerts/config.js';
import { AlertService } from '../src/alerts/service.js';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { HttpReceiver } from './alerts/receivers.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const HOUR = 3_600_000;
const TOKEN = 'tok-Very-Secret-99';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('alerts lists incidents (text and --json, no secrets), silence is stored and honoured, test reaches every channel', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-cli-'));
  const receiver = await new HttpReceiver().start();
  t.after(async () => {
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const configPath = join(dir, 'config.json');
  const alerts = {
    connections: [{ name: 'home', provider: 'ISP', downloadMbps: 100 }],
    servers: ['a', 'b'],
    detectors: [{ type: 'speed', direction: 'download', below: { planShare: 0.6 } }, { type: 'outage' }],
    channels: [{ type: 'webhook', url: `${receiver.url}/hook`, tokenEnv: 'NM_TEST_TOKEN' }],
  };
  writeFileSync(configPath, JSON.stringify({ quotaGB: 100, alerts }));
  chmodSync(configPath, 0o600);
  const dbPath = join(dir, 'history.db');
  const db = openHistoryForWriting(dbPath);
  const t0 = Date.now() - 10 * HOUR;
  let now = t0;
  const logs: string[] = [];
  let service = new AlertService(db, parseAlertsConfig(alerts, 'test'), { now: () => now, log: (l) => logs.push(l) });
  const feed = (s: AlertService, at: number, mbps: number) => {
    now = at;
    const pending = [{ at, server: 'a', family: 'ipv4' as const, downloadMbps: mbps, failed: false, contended: false, retest: false }];
    while (pending.length) for (const r of s.observeSpeed(pending.shift()!)) pending.push({ ...pending[0]!, at: r.at, server: r.server ?? 'a', downloadMbps: mbps, failed: false, contended: false, family: 'ipv4', retest: true });
  };
  // A past incident (3 h down, then back), and one still open.
  for (let h = 0; h < 6; h++) feed(service, t0 + h * HOUR, h < 3 ? 30 : 95);
  for (let h = 6; h < 8; h++) feed(service, t0 + h * HOUR, 20);
  assert.ok(logs.some((l) => /^alerts: open home ipv4 download \(\S+\): download 30\.0 Mbit\/s/.test(l)), logs.join('\n'));

  const text = await cli(['alerts', '--db', dbPath, '--config', configPath]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Open incidents \(1\):\n {2}since \S+ \S+ UTC \(\d+ h( \d+ min)?\) {2}home ipv4 download: download 20\.0 Mbit\/s/);
  assert.match(text.stdout, /Past incidents, last 30 days \(1\):\n {2}\S+ \S+ UTC \(\d h( \d+ min)?\) {2}home ipv4 download: download 30\.0/);
  assert.match(text.stdout, /3 message\(s\) waiting for delivery\.\n$/);

  // The provider report over the results the service judged (retests left out: 8 scheduled tests).
  const quality = await cli(['report', '--quality', '--month', '--markdown', '--now', `@${Math.floor((t0 + 7 * HOUR) / 1000)}`, '--db', dbPath, '--config', configPath]);
  assert.equal(quality.code, 0, quality.stderr);
  assert.match(quality.stdout, /^# Connection quality, \d{4}-\d\d\n\n## home \(ISP\), plan 100 Mbit\/s down\n/);
  assert.match(quality.stdout, /\| ipv4 \| a \| \d \| 0 \| /);
  const qualityJson = JSON.parse((await cli(['report', '--quality', '--json', '--now', `@${Math.floor((t0 + 7 * HOUR) / 1000)}`, '--db', dbPath, '--config', configPath])).stdout);
  assert.equal(qualityJson.connections[0].name, 'home');

  const json = await cli(['alerts', '--db', dbPath, '--json'], { NM_TEST_TOKEN: TOKEN });
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.open.length, 1);
  assert.equal(doc.past.length, 1);
  assert.equal(doc.past[0].durationSeconds > 0, true);
  assert.equal(doc.pendingDeliveries.length, 3);
  assert.ok(!json.stdout.includes(TOKEN));

  // A silence for the outage detector, stored by the CLI, seen by a restarted service: the outage opens held.
  const silence = await cli(['alerts', 'silence', '--for', '2h', '--detector', 'outage', '--reason', 'router swap', '--db', dbPath, '--config', configPath]);
  assert.equal(silence.code, 0, silence.stderr);
  assert.match(silence.stdout, /^silenced outage until \d{4}-\d\d-\d\dT/);
  now = Date.now();
  service = new AlertService(db, parseAlertsConfig(alerts, 'test'), { now: () => now, log: (l) => logs.push(l) });
  logs.length = 0;
  for (let i = 0; i < 3; i++) service.observeSpeed({ at: now + i * 60_000, server: i === 1 ? 'b' : 'a', family: 'ipv4', failed: true, contended: false, retest: i > 0 });
  assert.ok(logs.some((l) => /^alerts: held open home ipv4 outage .*silenced until .*\(router swap\)/.test(l)), logs.join('\n'));
  assert.ok(!logs.some((l) => /alerts: open home ipv4 download/.test(l)), 'the open speed incident was restored, not reopened');
  assert.match((await cli(['alerts', '--db', dbPath, '--config', configPath])).stdout, /Silenced outage until .* \(router swap\)\./);
  logs.length = 0;
  service.observeSpeed({ at: now + 10 * 60_000, server: 'a', family: 'ipv6', downloadMbps: 5, failed: false, contended: true });
  assert.deepEqual(logs, [`alerts: result of ${new Date(now + 10 * 60_000).toISOString()} not counted: contended: other traffic during the test`]);

  // Delivery drains the outbox to the receiver with the token from the environment.
  process.env.NM_TEST_TOKEN = TOKEN;
  try {
    assert.equal(await service.deliver(), 3);
    assert.equal(receiver.accepted[0]!.headers.authorization, `Bearer ${TOKEN}`);
  } finally {
    delete process.env.NM_TEST_TOKEN;
  }
  closeHistory(db);

  const sent = await cli(['alerts', 'test', '--config', configPath], { NM_TEST_TOKEN: TOKEN });
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.stdout, 'webhook (webhook): delivered\n');
  assert.equal(JSON.parse(receiver.accepted.at(-1)!.body).kind, 'test');
  const unset = await cli(['alerts', 'test', '--config', configPath], { NM_TEST_TOKEN: '' });
  assert.equal(unset.code, 1);
  assert.equal(unset.stdout, 'webhook (webhook): failed: the environment variable NM_TEST_TOKEN named in the alerts config is not set\n');
});

test('a bad alerts config stops with one line; a readable config with channels warns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-cli-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ alerts: { channels: [{ type: 'pager' }] } }));
  const bad = await cli(['alerts', 'test', '--config', path]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `netmeter: config ${path}: alerts.channels[0].type: "pager" is not a channel type (known: command, webhook, email, push)\n`);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  writeFileSync(path, JSON.stringify({ alerts: { channels: [{ type: 'push', url: `http://127.0.0.1:${port}/topic` }] } }));
  chmodSync(path, 0o644);
  const warned = await cli(['alerts', 'test', '--config', path]);
  assert.equal(warned.code, 1);
  assert.match(warned.stderr, /^netmeter: warning: .*config\.json is readable by all users and names alert channels \(addresses, URLs\): chmod o-r .*\n$/);
  assert.match(warned.stdout, /^push \(push\): failed: POST http:\/\/127\.0\.0\.1:\d+\/topic: ECONNREFUSED\n$/);
  const usage = await cli(['alerts', 'silence', '--config', path]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^netmeter: silence: give --for DURATION/);
});
