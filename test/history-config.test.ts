// The config file and the billing arithmetic: every bad value named in one line; cost, quota
// and the linear projection to the end of the billing period.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, parseHistoryConfig } from '../src/history/config.js';
import { loadConfig } from '../src/config/config-file.js';
import { billedInterfaces, computeBilling } from '../src/history/billing.js';
import { parseDateTime } from '../src/history/calendar.js';
import { defaultConfigPath, defaultDatabasePath, reportDatabasePath } from '../src/history/paths.js';

test('a full config is read with its values; retention in days becomes seconds', () => {
  const config = parseHistoryConfig({ currency: 'EUR', pricePerGB: 0.5, billingDay: 5, quotaGB: 100, interfaces: ['eth0'], retention: { minuteDays: 3, hourDays: 30, dayDays: 400 } }, 'config x');
  assert.deepEqual(config, {
    currency: 'EUR', pricePerGB: 0.5, billingDay: 5, quotaGB: 100, interfaces: ['eth0'],
    retention: { minuteSeconds: 3 * 86400, hourSeconds: 30 * 86400, daySeconds: 400 * 86400 },
  });
  assert.deepEqual(parseHistoryConfig({}, 'config x'), DEFAULT_CONFIG);
  assert.equal(parseHistoryConfig({ pricePerGB: 0 }, 'x').pricePerGB, 0, 'free is a price');
});

test('bad values are refused with a one-line message naming the setting', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ pricePerGB: -1 }, /pricePerGB must be a number of at least 0 \(got -1\)/],
    [{ pricePerGB: '0.5' }, /pricePerGB must be a number/],
    [{ quotaGB: 0 }, /quotaGB must be a number above 0/],
    [{ billingDay: 0 }, /billingDay must be a whole number from 1 to 31 \(got 0\)/],
    [{ billingDay: 32 }, /billingDay/],
    [{ billingDay: 1.5 }, /billingDay/],
    [{ currency: 5 }, /currency/],
    [{ interfaces: 'eth0' }, /interfaces must be a list/],
    [{ pricePerGb: 1 }, /unknown setting 'pricePerGb'/],
    [{ retention: { minuteDays: 10, hourDays: 5 } }, /hourDays must be at least retention.minuteDays/],
    [{ retention: { dayDays: 1 } }, /dayDays must be at least retention.hourDays/],
    [{ retention: { weeks: 1 } }, /unknown retention setting 'weeks'/],
    [[1, 2], /must be a JSON object/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseHistoryConfig(value, 'config /etc/netmeter/config.json'), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, message);
      assert.match(e.message, /^config \/etc\/netmeter\/config.json: /);
      assert.ok(!e.message.includes('\n'));
      return true;
    }, JSON.stringify(value));
  }
});

test('config files: missing is the defaults unless named; bad JSON is one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netmeter-config-'));
  try {
    assert.deepEqual(loadConfig(join(dir, 'none.json'), false).history, DEFAULT_CONFIG);
    assert.throws(() => loadConfig(join(dir, 'none.json'), true), /cannot read the config file .*none.json \(ENOENT\)/);
    writeFileSync(join(dir, 'bad.json'), '{"pricePerGB": 0.5,\n "currency": }\n');
    assert.throws(() => loadConfig(join(dir, 'bad.json'), true), (e: Error) => e instanceof ConfigError && /is not valid JSON/.test(e.message) && !e.message.includes('\n'));
    writeFileSync(join(dir, 'ok.json'), '{"pricePerGB": 2}');
    assert.equal(loadConfig(join(dir, 'ok.json'), true).history.pricePerGB, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('billing: cost so far, quota used and left, and a projection linear in the time elapsed', () => {
  const before = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    const config = parseHistoryConfig({ currency: 'EUR', pricePerGB: 2, billingDay: 1, quotaGB: 100 }, 'x');
    // April has 30 days; on the 11th at 00:00, 10 days have passed.
    const now = parseDateTime('2026-04-11 00:00')!;
    const b = computeBilling(config, 20e9, now);
    assert.equal(b.elapsedDays, 10);
    assert.equal(b.periodDays, 30);
    assert.equal(b.cost, 40);
    assert.equal(b.projectedBytes, 60e9);
    assert.equal(b.projectedCost, 120);
    assert.equal(b.quotaBytes, 100e9);
    assert.equal(b.quotaLeftBytes, 80e9);
    assert.equal(b.quotaUsedPercent, 20);
    assert.equal(b.projectedOverQuota, false);
    const over = computeBilling(config, 150e9, now);
    assert.equal(over.quotaLeftBytes, 0, 'never negative');
    assert.equal(over.projectedOverQuota, true);
    // The first instant of a period projects what it has (nothing to extrapolate from).
    assert.equal(computeBilling(config, 0, parseDateTime('2026-04-01 00:00')!).projectedBytes, 0);
    const quotaOnly = computeBilling(parseHistoryConfig({ quotaGB: 1 }, 'x'), 5e8, now);
    assert.equal(quotaOnly.cost, undefined);
    assert.equal(quotaOnly.quotaUsedPercent, 50);
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
});

test('billed interfaces: the configured ones, else all but loopback', () => {
  assert.deepEqual(billedInterfaces(DEFAULT_CONFIG, ['eth0', 'lo', 'wlan0']), ['eth0', 'wlan0']);
  assert.deepEqual(billedInterfaces({ ...DEFAULT_CONFIG, interfaces: ['wlan0'] }, ['eth0', 'lo', 'wlan0']), ['wlan0']);
});

test('default paths: system-wide for root, XDG directories for others', () => {
  const env = { XDG_STATE_HOME: '/home/a/state', XDG_CONFIG_HOME: '/home/a/conf' };
  assert.equal(defaultDatabasePath({ uid: 0, env, home: '/root' }), '/var/lib/netmeter/netmeter.db');
  assert.equal(defaultDatabasePath({ uid: 1000, env, home: '/home/a' }), '/home/a/state/netmeter/netmeter.db');
  assert.equal(defaultDatabasePath({ uid: 1000, env: {}, home: '/home/a' }), '/home/a/.local/state/netmeter/netmeter.db');
  const user = { uid: 1000, env: {}, home: '/home/a' };
  assert.equal(reportDatabasePath(user, (p) => p === '/var/lib/netmeter/netmeter.db'), '/var/lib/netmeter/netmeter.db', 'no own history: the system one');
  assert.equal(reportDatabasePath(user, () => true), '/home/a/.local/state/netmeter/netmeter.db');
  assert.equal(reportDatabasePath(user, () => false), '/home/a/.local/state/netmeter/netmeter.db', 'neither: name the own one in the error');
  assert.equal(defaultConfigPath(user, () => false), '/etc/netmeter/config.json');
  assert.equal(defaultConfigPath({ uid: 1000, env, home: '/home/a' }, () => true), '/home/a/conf/netmeter/config.json');
  assert.equal(defaultConfigPath({ uid: 0, env, home: '/root' }, () => true), '/etc/netmeter/config.json');
});
