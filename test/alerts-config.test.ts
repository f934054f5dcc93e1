// The alerts config: a full example is read, every bad value stops with one line naming
// it, secrets are only named (file or environment), and file permissions: a warning for
// readable secrets, a refusal for a command channel others could change.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAlertsConfig } from '../src/alerts/config.js';
import { loadAlertsConfig, readSecret } from '../src/alerts/secrets.js';
import { parseConfigFile } from '../src/config/config-file.js';
import { ConfigError } from '../src/history/config.js';

const FULL = {
  timeZone: 'Europe/Berlin',
  connections: [{ name: 'home', interface: 'eth0', provider: 'Example ISP', downloadMbps: 100, uploadMbps: 40 }],
  servers: ['a.example', 'b.example'],
  detectors: [
    { type: 'speed', direction: 'download', below: { baselineShare: 0.7, planFloor: 0.6 }, recoverAbove: { baselineShare: 0.8, planFloor: 0.7 }, remindEveryHours: 24 },
    { type: 'speed', direction: 'upload', below: { planShare: 0.5 } },
    { type: 'latency', metric: 'loadedLatency', aboveMs: 200, recoverBelowMs: 100, confirm: { bad: 3, of: 4 } },
    { type: 'outage' },
    { type: 'quota', shares: [1, 0.8] },
    { type: 'hog', share: 0.8, forMinutes: 10 },
  ],
  channels: [
    { type: 'email', to: 'support@isp.example', from: 'me@home.example', complaint: true, smtp: { host: 'smtp.home.example', user: 'me', passwordFile: '/etc/netmeter/smtp-password' } },
    { type: 'webhook', url: 'https://hooks.example/x', tokenEnv: 'HOOK_TOKEN' },
    { type: 'push', url: 'https://ntfy.example/my-topic' },
  ],
  maintenance: [{ daily: '03:00-04:00' }],
};

test('a full alerts config is read, with defaults filled in', () => {
  const config = parseAlertsConfig(FULL, 'config x');
  assert.equal(config.detectors.length, 6);
  const upload = config.detectors[1]!;
  assert.ok(upload.type === 'speed');
  assert.deepEqual(upload.recoverAbove, { kind: 'plan', share: 0.5 * 1.15 });
  assert.deepEqual(upload.confirm, { bad: 5, of: 6, retests: 2, recoverAfter: 3 });
  assert.deepEqual(config.detectors[2]!.type === 'latency' && config.detectors[2]!.confirm, { bad: 3, of: 4, retests: 2, recoverAfter: 3 });
  assert.deepEqual(config.detectors[4]!.type === 'quota' && config.detectors[4]!.shares, [0.8, 1]);
  const email = config.channels[0]!;
  assert.ok(email.type === 'email');
  assert.deepEqual(email.smtp, { host: 'smtp.home.example', port: 587, secure: false, user: 'me', password: { file: '/etc/netmeter/smtp-password' } });
  assert.deepEqual(email.to, ['support@isp.example']);
  assert.equal(config.channels[1]!.type === 'webhook' && config.channels[1]!.token !== undefined && 'env' in config.channels[1]!.token, true);
  assert.deepEqual(config.maintenance, [{ kind: 'daily', fromMinute: 180, untilMinute: 240 }]);
  // The config file's alerts section, beside history (and beside the 0.1.0 flat history keys).
  assert.equal(parseConfigFile({ history: { quotaGB: 100 }, alerts: FULL }, 'config x').alerts.detectors.length, 6);
  assert.equal(parseConfigFile({ quotaGB: 100, alerts: FULL }, 'config x').history.quotaGB, 100);
  assert.deepEqual(parseConfigFile({}, 'config x').alerts.channels, []);
  assert.deepEqual(parseAlertsConfig(undefined, 'x').detectors, []);
});

test('bad alerts config stops with one line naming the setting', () => {
  const withDetector = (d: unknown) => ({ connections: FULL.connections, detectors: [d] });
  const withChannel = (c: unknown) => ({ channels: [c] });
  const cases: Array<[unknown, RegExp]> = [
    [withChannel({ type: 'sms', to: '123' }), /alerts\.channels\[0\]\.type: "sms" is not a channel type \(known: command, webhook, email, push\)/],
    [withChannel({ type: 'email', from: 'a@b.c', smtp: { host: 'h' } }), /alerts\.channels\[0\]\.to: missing: the address to write to/],
    [withChannel({ type: 'email', to: 'not-an-address', from: 'a@b.c', smtp: { host: 'h' } }), /"not-an-address" is not an email address/],
    [withChannel({ type: 'webhook' }), /alerts\.channels\[0\]\.url: missing/],
    [withChannel({ type: 'webhook', url: 'ftp://x' }), /must be an http or https URL/],
    [withChannel({ type: 'webhook', url: 'https://x', token: 'abc' }), /secrets are not written in the config: use "tokenFile".*"tokenEnv"/],
    [withChannel({ type: 'email', to: 'a@b.c', from: 'a@b.c', smtp: { host: 'h', password: 'hunter2' } }), /smtp\.password: secrets are not written in the config/],
    [withChannel({ type: 'webhook', url: 'https://u:pw@x' }), /secrets are not written in the config/],
    [withChannel({ type: 'command', command: ['notify-send'] }), /must be an absolute path/],
    [withChannel({ type: 'command' }), /command: missing/],
    [withDetector({ type: 'speed', direction: 'download', below: { planShare: 1.5 } }), /below\.planShare: must be a number from 0\.01 to 1 \(got 1\.5\)/],
    [withDetector({ type: 'speed', direction: 'download', below: { planShare: 0.5 }, recoverAbove: { planShare: 0.4 } }), /recoverAbove: must be at or above "below"/],
    [withDetector({ type: 'speed', direction: 'down', below: { mbps: 5 } }), /direction: must be "download" or "upload"/],
    [withDetector({ type: 'speed', direction: 'download', below: { mbps: 5, planShare: 0.5 } }), /give exactly one of/],
    [withDetector({ type: 'latency', aboveMs: -5 }), /aboveMs: must be a number from 0\.1 to 60000 \(got -5\)/],
    [withDetector({ type: 'latency', aboveMs: 50, recoverBelowMs: 80 }), /recoverBelowMs: must be at or below aboveMs/],
    [withDetector({ type: 'outage', confirm: { bad: 4, of: 3 } }), /confirm\.bad: must be at most "of" \(3\)/],
    [withDetector({ type: 'quota', shares: [0] }), /shares\[0\]: must be a number from 0\.01/],
    [withDetector({ type: 'hog', share: 2 }), /share: must be a number from 0\.01 to 1/],
    [withDetector({ type: 'flood' }), /"flood" is not a detector type/],
    [{ detectors: [{ type: 'speed', direction: 'download', below: { planShare: 0.5 } }] }, /a share of the plan needs a connection with "downloadMbps"/],
    [{ timeZone: 'Mars/Olympus' }, /'Mars\/Olympus' is not a time zone/],
    [{ maintenance: [{ daily: '25:00-26:00' }] }, /daily: must be a local time range/],
    [{ silences: [{ from: '2026-12-01T10:00:00Z', until: '2026-12-01T09:00:00Z' }] }, /"until" must be after "from"/],
    [{ sms: true }, /unknown setting 'sms'/],
    [[], /alerts: must be an object/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseConfigFile({ alerts: value }, 'config /etc/netmeter/config.json'), (error: Error) => {
      assert.ok(error instanceof ConfigError, `${JSON.stringify(value)}: ${error}`);
      assert.match(error.message, message);
      assert.match(error.message, /^config \/etc\/netmeter\/config\.json: alerts/);
      assert.ok(!error.message.includes('\n'), 'one line');
      assert.ok(!error.message.includes('hunter2') && !error.message.includes('abc'), 'the secret is not repeated');
      return true;
    });
  }
});

test('secrets come from the named file or environment variable; errors name the place, never a value', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-secret-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, 's3cret\n', { mode: 0o600 });
    assert.equal(readSecret({ file }), 's3cret');
    assert.equal(readSecret({ env: 'NM_TOKEN' }, { env: { NM_TOKEN: 'x1' }, readFile: () => '' }), 'x1');
    assert.throws(() => readSecret({ env: 'NM_MISSING' }, { env: {}, readFile: () => '' }), /the environment variable NM_MISSING named in the alerts config is not set/);
    assert.throws(() => readSecret({ file: join(dir, 'none') }), /cannot read the secret file .*none named in the alerts config \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file permissions: readable config or secret file → a warning; a command channel in a file others can change → refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-perm-'));
  try {
    chmodSync(dir, 0o755);
    const secret = join(dir, 'smtp-password');
    writeFileSync(secret, 'pw', { mode: 0o644 });
    chmodSync(secret, 0o644);
    const path = join(dir, 'config.json');
    const channel = { type: 'email', to: 'a@b.example', from: 'c@d.example', smtp: { host: 'h', passwordFile: secret } };
    writeFileSync(path, JSON.stringify({ alerts: { channels: [channel] } }));
    chmodSync(path, 0o644);
    const { warnings } = loadAlertsConfig(path, true);
    assert.deepEqual(warnings, [
      `warning: ${path} is readable by all users and names alert channels (addresses, URLs): chmod o-r ${path}`,
      `warning: the secret file ${secret} is readable by other users: chmod 600 ${secret}`,
    ]);
    chmodSync(path, 0o600);
    chmodSync(secret, 0o600);
    assert.deepEqual(loadAlertsConfig(path, true).warnings, []);

    writeFileSync(path, JSON.stringify({ alerts: { channels: [{ type: 'command', command: ['/bin/true'] }] } }));
    chmodSync(path, 0o600);
    // The files are root's when the test runs as root; otherwise pretend, through the stat seam.
    const asRoot = (p: string) => ({ mode: p === path ? 0o100600 : 0o40755, uid: 0 });
    assert.deepEqual(loadAlertsConfig(path, true, asRoot).warnings, []);
    assert.throws(() => loadAlertsConfig(path, true, (p) => ({ ...asRoot(p), ...(p === path ? { mode: 0o100664 } : {}) })),
      /a "command" channel runs as root, but this file can be changed by users other than root/);
    assert.throws(() => loadAlertsConfig(path, true, (p) => ({ ...asRoot(p), ...(p === path ? { uid: 1000 } : {}) })), /can be changed by users other than root/);
    assert.throws(() => loadAlertsConfig(path, true, (p) => ({ ...asRoot(p), ...(p === dir ? { mode: 0o40777 } : {}) })), /its directory .* can be changed/);
    if (process.getuid?.() === 0) {
      assert.deepEqual(loadAlertsConfig(path, true).warnings, [], 'the real file, owned by root, 0600');
      chownSync(path, 65534, 65534);
      assert.throws(() => loadAlertsConfig(path, true), ConfigError);
    }
    assert.deepEqual(loadAlertsConfig(join(dir, 'missing.json'), false).config.channels, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
