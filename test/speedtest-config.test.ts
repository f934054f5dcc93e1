// The config file's `speedtest` section: defaults, every value checked, and each bad value
// named in one line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SPEEDTEST_CONFIG, parseSpeedtestConfig, planFor } from '../src/speedtest/config.js';

const W = 'config /etc/netmeter/config.json';

test('an empty section is the defaults: no scheduled servers, every 6 h ± 30 min, 500 MB per test', () => {
  assert.deepEqual(parseSpeedtestConfig({}, W), DEFAULT_SPEEDTEST_CONFIG);
  assert.deepEqual(DEFAULT_SPEEDTEST_CONFIG.servers, [], 'never the public servers unless named');
});

test('a full section', () => {
  const c = parseSpeedtestConfig({
    servers: ['https://speedtest.example.net/backend/', 'http://198.18.0.1:8080/'],
    intervalMinutes: 120, jitterMinutes: 10, maxMBPerTest: 200, maxGBPerPeriod: 5,
    planDownloadMbps: 100, planUploadMbps: 20,
    interfaces: { wwan0: { planDownloadMbps: 50, planUploadMbps: 10 } },
    defaultServer: 'https://speed.example.org/', defaultServerList: 'https://example.org/servers.json',
  }, W);
  assert.equal(c.maxBytesPerTest, 200e6);
  assert.equal(c.maxBytesPerPeriod, 5e9);
  assert.deepEqual(planFor(c, 'wwan0'), { planDownloadMbps: 50, planUploadMbps: 10 });
  assert.deepEqual(planFor(c, 'eth0'), { planDownloadMbps: 100, planUploadMbps: 20 });
  assert.deepEqual(planFor(undefined, 'eth0'), {});
  assert.equal(c.defaultServer, 'https://speed.example.org/');
});

test('bad values: one line each, naming the setting', () => {
  const cases: [unknown, RegExp][] = [
    [[], /^config \/etc\/netmeter\/config\.json: speedtest must be an object like/],
    [{ server: [] }, /unknown speedtest setting 'server' \(known: servers, /],
    [{ servers: 'https://x/' }, /speedtest\.servers must be a list of http:\/\/ or https:\/\/ URLs \(got "https:\/\/x\/"\)/],
    [{ servers: ['ftp://x/'] }, /speedtest\.servers must be a list/],
    [{ intervalMinutes: 0 }, /speedtest\.intervalMinutes must be a number above 0 \(got 0\)/],
    [{ intervalMinutes: 10, jitterMinutes: 10 }, /speedtest\.jitterMinutes must be less than intervalMinutes \(10\)/],
    [{ jitterMinutes: -1 }, /speedtest\.jitterMinutes must be a number of at least 0/],
    [{ maxMBPerTest: 'lots' }, /speedtest\.maxMBPerTest must be a number above 0 \(got "lots"\)/],
    [{ maxMBPerTest: 600, maxGBPerPeriod: 0.5 }, /maxGBPerPeriod is less than one test's maxMBPerTest/],
    [{ planDownloadMbps: -5 }, /speedtest\.planDownloadMbps must be a number above 0 \(got -5\)/],
    [{ interfaces: { eth0: { planDown: 5 } } }, /unknown setting speedtest\.interfaces\.eth0\.planDown/],
    [{ interfaces: { eth0: { planUploadMbps: 0 } } }, /speedtest\.interfaces\.eth0\.planUploadMbps must be a number above 0/],
    [{ defaultServer: 'speed.example' }, /speedtest\.defaultServer must be an http:\/\/ or https:\/\/ URL/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => parseSpeedtestConfig(value, W), (e: Error) => e.name === 'ConfigError' && !e.message.includes('\n') && pattern.test(e.message), JSON.stringify(value));
  }
});
