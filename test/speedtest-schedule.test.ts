// The daemon's speed test schedule with an injected clock and random source: the first
// test at a random point of the first interval, later ones one interval ± jitter apart,
// servers in turn, and skips for the per-period cap and the billing quota.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpeedtestConfig } from '../src/speedtest/config.js';
import { SpeedtestSchedule, decideScheduledRun, nextRunTime } from '../src/speedtest/schedule.js';

const config = parseSpeedtestConfig({ servers: ['http://198.18.0.1/', 'http://198.18.0.2/'], intervalMinutes: 60, jitterMinutes: 10, maxMBPerTest: 100, maxGBPerPeriod: 1 }, 't');

test('next run: one interval later, moved by up to ± the jitter', () => {
  assert.equal(nextRunTime(1000, config, () => 0.5), 1000 + 3600);
  assert.equal(nextRunTime(1000, config, () => 0), 1000 + 3600 - 600);
  assert.equal(nextRunTime(1000, config, () => 0.999999), 1000 + 3600 + 600);
});

test('the schedule: a random first run, then due and taken once per interval, servers in turn', () => {
  let now = 10_000;
  const randoms = [0.25, 0.5, 0.75];
  const schedule = new SpeedtestSchedule(config, { now: () => now, random: () => randoms.shift() ?? 0.5 });
  assert.equal(schedule.next, 10_000 + 900, 'a quarter into the first interval');
  assert.equal(schedule.due(), false);
  now = 10_900;
  assert.equal(schedule.due(), true);
  const usage = { usedBytes: 0, speedtestBytes: 0 };
  assert.deepEqual(schedule.take(usage), { run: true, server: 'http://198.18.0.1/', maxBytes: 100e6 });
  assert.equal(schedule.next, 10_900 + 3600, 'random 0.5: no jitter');
  assert.equal(schedule.due(), false);
  now = schedule.next;
  assert.deepEqual(schedule.take(usage), { run: true, server: 'http://198.18.0.2/', maxBytes: 100e6 });
  assert.equal(schedule.next, now + 3600 + 300, 'random 0.75: +5 min');
});

test('skips: no servers named, the per-period cap, the billing quota; a skipped test is not a server turn', () => {
  const none = parseSpeedtestConfig({}, 't');
  assert.deepEqual(decideScheduledRun(none, { usedBytes: 0, speedtestBytes: 0 }, 0), { run: false, reason: 'no servers in the config (speedtest.servers): scheduled tests use only servers named there' });
  // 950 MB used by tests, 100 more would pass 1 GB.
  assert.deepEqual(decideScheduledRun(config, { usedBytes: 0, speedtestBytes: 950e6 }, 0), { run: false, reason: 'skipped: another test (up to 100 MB) would pass the 1.0 GB speed tests may use this billing period (950 MB used)' });
  assert.equal(decideScheduledRun(config, { usedBytes: 0, speedtestBytes: 900e6 }, 0).run, true, 'exactly reaching the cap is allowed');
  assert.deepEqual(decideScheduledRun(config, { usedBytes: 49.95e9, quotaBytes: 50e9, speedtestBytes: 0 }, 0), { run: false, reason: 'skipped: a test (up to 100 MB) could push the billing period over its quota (50.0 GB of 50.0 GB used)' });
  assert.equal(decideScheduledRun(config, { usedBytes: 49.9e9, quotaBytes: 50e9, speedtestBytes: 0 }, 1).run, true);

  let now = 0;
  const schedule = new SpeedtestSchedule(config, { now: () => now, random: () => 0.5 });
  now = schedule.next;
  assert.equal(schedule.take({ usedBytes: 0, speedtestBytes: 1e9 }).run, false);
  assert.ok(schedule.next > now, 'the next test is planned after a skip too');
  now = schedule.next;
  assert.deepEqual(schedule.take({ usedBytes: 0, speedtestBytes: 0 }), { run: true, server: 'http://198.18.0.1/', maxBytes: 100e6 });
});
