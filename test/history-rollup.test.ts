// Roll-up and retention: minute rows become hours, hours become days, and no total — by
// application, user, interface or day — changes on the way; only deliberate expiry drops
// anything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeHistory, openHistoryForWriting, type HistoryDb } from '../src/history/database.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import { DEFAULT_RETENTION, rollUp } from '../src/history/rollup.js';
import { queryInterfaces, queryUsage, type Dimension } from '../src/history/queries.js';
import type { UsageTotal } from '../src/history/usage-key.js';

const ALL = { since: 0, until: 2 ** 42 };
const DAY = 86400;

function withDb(fn: (db: HistoryDb) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'netmeter-rollup-'));
  const db = openHistoryForWriting(join(dir, 'netmeter.db'));
  try {
    fn(db);
  } finally {
    closeHistory(db);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Twenty days of traffic, a flush every 13 minutes: three applications of two users on two
 * interfaces, sizes that vary so that every bucket differs. Returns the clock's last value.
 */
function record(db: HistoryDb, start: number, days = 20): number {
  let now = start;
  const totals = new Map<string, UsageTotal>();
  const recorder = new HistoryRecorder(db, { totals: () => [...totals.values()].map((t) => ({ ...t })) }, { clock: () => now, bootId: 'b' });
  const apps = [['firefox', 'alice', 'eth0'], ['curl', 'bob', 'eth0'], ['rsync', 'alice', 'wlan0']] as const;
  let rx = 0;
  for (let i = 0; now < start + days * DAY * 1000; i++) {
    for (const [n, [app, user, iface]] of apps.entries()) {
      const key = `${app}|${iface}`;
      const t = totals.get(key) ?? { app, exe: `/usr/bin/${app}`, user, interface: iface, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };
      t.sentBytes += ((i * 7919 + n * 104729) % 5000) + 1;
      t.receivedBytes += ((i * 15485863 + n) % 70000) + 3;
      t.sentPackets += 1;
      t.receivedPackets += 2;
      totals.set(key, t);
    }
    rx += (i % 17) * 1000 + 1;
    recorder.flush([{ name: 'eth0', counters: { rxBytes: rx, txBytes: Math.floor(rx / 3), rxPackets: i, txPackets: i } }]);
    now += 13 * 60_000;
  }
  return now;
}

function snapshot(db: HistoryDb) {
  const by = (d: Dimension) => queryUsage(db, ALL, d).map((r) => JSON.stringify(r)).sort();
  return {
    app: by('app'),
    user: by('user'),
    interface: by('interface'),
    day: by('day'),
    month: by('month'),
    kernel: queryInterfaces(db, ALL),
  };
}

const count = (db: HistoryDb, table: string) => db.prepare<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).get()!.n;

test('rolling up keeps every total by application, user, interface, day and month', () => {
  withDb((db) => {
    const start = new Date(2026, 0, 3, 22, 17).getTime();
    const end = record(db, start);
    const before = snapshot(db);
    assert.ok(count(db, 'usage_minute') > 5000);
    // As the daemon does: every hour along the way, then far in the future.
    for (let t = start; t <= end; t += 3600_000) rollUp(db, t / 1000);
    assert.deepEqual(snapshot(db), before, 'after hourly roll-ups at default retention');
    assert.ok(count(db, 'usage_hour') > 0, 'minutes older than a week became hours');
    const result = rollUp(db, end / 1000 + 200 * DAY);
    assert.ok(result.minuteRowsRolled > 0 && result.hourRowsRolled > 0);
    assert.equal(count(db, 'usage_minute'), 0);
    assert.equal(count(db, 'usage_hour'), 0);
    assert.equal(count(db, 'kernel_minute'), 0);
    assert.deepEqual(snapshot(db), before, 'all in day rows');
    assert.deepEqual(rollUp(db, end / 1000 + 200 * DAY), { minuteRowsRolled: 0, hourRowsRolled: 0, dayRowsDeleted: 0 }, 'nothing left to do');
  });
});

test('minute rows younger than the retention stay minutes; cutoffs fall on whole hours', () => {
  withDb((db) => {
    const start = new Date(2026, 4, 1, 0, 0).getTime();
    const end = record(db, start, 10);
    const now = end / 1000;
    rollUp(db, now, { ...DEFAULT_RETENTION, minuteSeconds: 2 * DAY });
    const oldestMinute = db.prepare<{ t: number }>('SELECT MIN(start) AS t FROM usage_minute').get()!.t;
    const newestHour = db.prepare<{ t: number }>('SELECT MAX(start) AS t FROM usage_hour').get()!.t;
    assert.ok(oldestMinute >= now - 2 * DAY - 3600 && oldestMinute <= now - 2 * DAY + 3600);
    assert.ok(newestHour < oldestMinute, 'an hour is either all minutes or one hour row');
    const hours = db.prepare<{ start: number }>('SELECT DISTINCT start FROM usage_hour').all();
    for (const { start: h } of hours) assert.equal(new Date(h * 1000).getMinutes(), 0);
  });
});

test('day rows older than a configured limit are dropped; forever (null) keeps them', () => {
  withDb((db) => {
    const start = new Date(2026, 0, 1, 12, 0).getTime();
    const end = record(db, start, 6);
    const now = end / 1000 + 30 * DAY;
    rollUp(db, now, { minuteSeconds: DAY, hourSeconds: 2 * DAY, daySeconds: null });
    const kept = count(db, 'usage_day');
    assert.ok(kept > 0);
    const result = rollUp(db, now, { minuteSeconds: DAY, hourSeconds: 2 * DAY, daySeconds: 33 * DAY });
    assert.ok(result.dayRowsDeleted > 0);
    assert.ok(count(db, 'usage_day') < kept);
    const oldest = db.prepare<{ t: number }>('SELECT MIN(start) AS t FROM usage_day').get()!.t;
    assert.ok(oldest >= now - 34 * DAY);
  });
});

test('in a half-hour time zone, hour rows start on local hours and days on local midnight', () => {
  const before = process.env.TZ;
  process.env.TZ = 'Asia/Kolkata';
  try {
    withDb((db) => {
      const start = new Date(2026, 0, 3, 22, 17).getTime();
      const end = record(db, start, 12);
      const totals = snapshot(db);
      rollUp(db, end / 1000, { minuteSeconds: 2 * DAY, hourSeconds: 5 * DAY, daySeconds: null });
      assert.deepEqual(snapshot(db), totals);
      for (const { start: h } of db.prepare<{ start: number }>('SELECT DISTINCT start FROM usage_hour').all()) {
        assert.equal(new Date(h * 1000).getMinutes(), 0, 'a local hour');
        assert.equal(h % 3600, 1800, 'which is half past a UTC hour');
      }
      for (const { start: d } of db.prepare<{ start: number }>('SELECT DISTINCT start FROM usage_day').all()) {
        assert.equal(new Date(d * 1000).getHours(), 0);
      }
    });
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
});
