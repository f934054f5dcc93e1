// The recorder: per-minute rows of what moved since the last flush, kernel counters that
// survive resets, reboots and restarts, and flushes that are all-or-nothing and lose
// nothing when they fail.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { counterDelta } from '../src/account/counters.js';
import { interfaceDelta, usageDelta } from '../src/history/counter-delta.js';
import { closeHistory, openHistoryForWriting, type HistoryDb } from '../src/history/database.js';
import { HistoryRecorder, type InterfaceReading } from '../src/history/recorder.js';
import type { UsageTotal } from '../src/history/usage-key.js';

const T0 = Date.UTC(2026, 2, 14, 10, 0, 0);

function tempDb(): { path: string; db: HistoryDb; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'netmeter-history-'));
  const path = join(dir, 'netmeter.db');
  const db = openHistoryForWriting(path);
  return { path, db, remove: () => { closeHistory(db); rmSync(dir, { recursive: true, force: true }); } };
}

/** Cumulative totals a test sets by hand. */
class Totals {
  readonly map = new Map<string, UsageTotal>();
  add(app: string, sent: number, received: number, iface = 'eth0'): void {
    const t = this.map.get(app + iface) ?? { app, exe: `/usr/bin/${app}`, user: 'alice', interface: iface, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };
    t.sentBytes += sent;
    t.receivedBytes += received;
    t.sentPackets += sent ? 1 : 0;
    t.receivedPackets += received ? 1 : 0;
    this.map.set(app + iface, t);
  }
  totals(): UsageTotal[] {
    return [...this.map.values()].map((t) => ({ ...t }));
  }
}

const reading = (name: string, rxBytes: number, txBytes: number, rxPackets = 0, txPackets = 0): InterfaceReading => ({ name, counters: { rxBytes, txBytes, rxPackets, txPackets } });

function sums(db: HistoryDb): { sent: number; received: number } {
  return db.prepare<{ sent: number; received: number }>(
    'SELECT COALESCE(SUM(sent_bytes), 0) AS sent, COALESCE(SUM(received_bytes), 0) AS received FROM usage_minute',
  ).get()!;
}

function kernelSums(db: HistoryDb, iface: string): { rx: number; tx: number } {
  return db.prepare<{ rx: number; tx: number }>(
    'SELECT COALESCE(SUM(rx_bytes), 0) AS rx, COALESCE(SUM(tx_bytes), 0) AS tx FROM kernel_minute WHERE interface = ?',
  ).get(iface)!;
}

test('counter deltas: growth as is; a drop (reset, reboot, 32-bit wrap) counts from zero; never negative or huge', () => {
  assert.equal(counterDelta(1000, 1500), 500);
  assert.equal(counterDelta(1000, 1000), 0);
  assert.equal(counterDelta(5_000_000, 1200), 1200, 'reset: what was counted since');
  assert.equal(counterDelta(2 ** 32 - 100, 50), 50, '32-bit wrap: the part after the wrap, not 2^64 - x');
  assert.equal(counterDelta(2 ** 53, 10), 10);
  assert.equal(counterDelta(10, Number.NaN), 0);
  assert.equal(counterDelta(10, -5), 0);
  assert.equal(counterDelta(Number.NaN, 7), 7);
  assert.deepEqual(interfaceDelta({ rxBytes: 10, txBytes: 10, rxPackets: 1, txPackets: 1 }, { rxBytes: 5, txBytes: 30, rxPackets: 0, txPackets: 3 }), { rxBytes: 5, txBytes: 20, rxPackets: 0, txPackets: 2 });
  // An application's totals fall only when its source restarted: all four start from zero together.
  assert.deepEqual(usageDelta({ sentBytes: 100, receivedBytes: 100, sentPackets: 2, receivedPackets: 2 }, { sentBytes: 40, receivedBytes: 150, sentPackets: 1, receivedPackets: 3 }), { sentBytes: 40, receivedBytes: 150, sentPackets: 1, receivedPackets: 3 });
});

test('each flush adds what moved since the last one to the minute it moved in', () => {
  const { db, remove } = tempDb();
  try {
    let now = T0 + 5_000;
    const totals = new Totals();
    const recorder = new HistoryRecorder(db, totals, { clock: () => now });
    totals.add('firefox', 100, 1000);
    now = T0 + 30_000;
    assert.equal(recorder.flush().usageRows, 1);
    totals.add('firefox', 1, 1);
    totals.add('curl', 7, 70);
    now = T0 + 59_000;
    recorder.flush(); // same minute: added to the same rows
    now = T0 + 61_000;
    const third = recorder.flush(); // nothing moved: no rows
    assert.equal(third.usageRows, 0);
    totals.add('curl', 3, 30);
    now = T0 + 130_000;
    const fourth = recorder.flush();
    assert.equal(fourth.minute, (T0 + 60_000) / 1000, 'the minute its traffic began in');
    const rows = db.prepare<{ start: number; app: string; sent: number; received: number }>(
      'SELECT u.start, s.app, u.sent_bytes AS sent, u.received_bytes AS received FROM usage_minute u JOIN series s ON s.id = u.series ORDER BY u.start, s.app',
    ).all();
    assert.deepEqual(rows, [
      { start: T0 / 1000, app: 'curl', sent: 7, received: 70 },
      { start: T0 / 1000, app: 'firefox', sent: 101, received: 1001 },
      { start: (T0 + 60_000) / 1000, app: 'curl', sent: 3, received: 30 },
    ]);
  } finally {
    remove();
  }
});

test('a failed flush writes nothing (one transaction) and its traffic goes into the next one', () => {
  const { db, remove } = tempDb();
  try {
    let now = T0;
    const totals = new Totals();
    const recorder = new HistoryRecorder(db, totals, { clock: () => now, bootId: 'boot-1' });
    recorder.flush([reading('eth0', 1000, 1000)]);
    totals.add('firefox', 500, 5000);
    now += 60_000;
    // The kernel rows fail after the application rows were inserted: all of it must roll back.
    db.exec("CREATE TEMP TRIGGER fail BEFORE INSERT ON kernel_minute BEGIN SELECT RAISE(ABORT, 'disk trouble'); END");
    assert.throws(() => recorder.flush([reading('eth0', 1500, 1200)]), /disk trouble/);
    assert.deepEqual(sums(db), { sent: 0, received: 0 });
    assert.deepEqual(kernelSums(db, 'eth0'), { rx: 0, tx: 0 });
    db.exec('DROP TRIGGER fail');
    totals.add('firefox', 1, 1);
    now += 60_000;
    recorder.flush([reading('eth0', 1800, 1300)]);
    assert.deepEqual(sums(db), { sent: 501, received: 5001 });
    assert.deepEqual(kernelSums(db, 'eth0'), { rx: 800, tx: 300 });
  } finally {
    remove();
  }
});

test('a flush blocked by another writer\'s lock fails with SQLITE_BUSY and loses nothing', () => {
  const { path, db, remove } = tempDb();
  try {
    const totals = new Totals();
    let now = T0;
    const recorder = new HistoryRecorder(db, totals, { clock: () => now });
    db.pragma('busy_timeout = 50');
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    totals.add('curl', 10, 20);
    now += 60_000;
    assert.throws(() => recorder.flush(), (e: Error & { code?: string }) => e.code === 'SQLITE_BUSY');
    other.exec('ROLLBACK');
    other.close();
    now += 60_000;
    recorder.flush();
    assert.deepEqual(sums(db), { sent: 10, received: 20 });
  } finally {
    remove();
  }
});

test('kernel counters: resets, wraps and a vanished interface give no negative or bogus values', () => {
  const { db, remove } = tempDb();
  try {
    let now = T0;
    const recorder = new HistoryRecorder(db, new Totals(), { clock: () => now, bootId: 'boot-1' });
    const step = (...readings: InterfaceReading[]) => {
      now += 60_000;
      return recorder.flush(readings);
    };
    step(reading('eth0', 10_000, 5_000)); // the starting point: counts nothing
    assert.deepEqual(kernelSums(db, 'eth0'), { rx: 0, tx: 0 });
    step(reading('eth0', 12_000, 6_000));
    step(reading('eth0', 300, 100)); // driver reload: counting restarted from zero
    step(reading('eth0', 800, 150));
    step(); // the interface is gone for a minute
    step(reading('eth0', 1000, 2 ** 32 - 10)); // back, with tx near a 32-bit counter's end
    step(reading('eth0', 1100, 20)); // tx wrapped
    assert.deepEqual(kernelSums(db, 'eth0'), { rx: 2000 + 300 + 500 + 200 + 100, tx: 1000 + 100 + 50 + (2 ** 32 - 10 - 150) + 20 });
    const worst = db.prepare<{ lo: number; hi: number }>('SELECT MIN(MIN(rx_bytes, tx_bytes)) AS lo, MAX(MAX(rx_bytes, tx_bytes)) AS hi FROM kernel_minute').get()!;
    assert.ok(worst.lo >= 0);
    assert.ok(worst.hi < 2 ** 33);
  } finally {
    remove();
  }
});

test('a daemon restarted in the same boot continues the counters; after a reboot they count from zero', () => {
  const { db, remove } = tempDb();
  try {
    let now = T0;
    const clock = () => now;
    let recorder = new HistoryRecorder(db, new Totals(), { clock, bootId: 'boot-1' });
    recorder.flush([reading('eth0', 1000, 100)]);
    now += 60_000;
    recorder.flush([reading('eth0', 1500, 200)]);
    // Stopped (or killed) here; the interface moves 2000/300 more while no daemon runs.
    now += 600_000;
    recorder = new HistoryRecorder(db, new Totals(), { clock, bootId: 'boot-1' });
    recorder.flush([reading('eth0', 3500, 500)]);
    assert.deepEqual(kernelSums(db, 'eth0'), { rx: 2500, tx: 400 }, 'the gap is counted, once');
    // A reboot: the counters start again at zero and show what moved since boot.
    now += 600_000;
    recorder = new HistoryRecorder(db, new Totals(), { clock, bootId: 'boot-2' });
    recorder.flush([reading('eth0', 700, 70)]);
    assert.deepEqual(kernelSums(db, 'eth0'), { rx: 3200, tx: 470 });
    // Without a boot id a stored reading is not trusted: the next one is a new start.
    recorder = new HistoryRecorder(db, new Totals(), { clock });
    recorder.flush([reading('eth0', 900, 90)]);
    assert.deepEqual(kernelSums(db, 'eth0'), { rx: 3200, tx: 470 });
  } finally {
    remove();
  }
});

test('a new source (the daemon restarted) starts from zero: its first totals are all new', () => {
  const { db, remove } = tempDb();
  try {
    let now = T0;
    const first = new Totals();
    const recorder = new HistoryRecorder(db, first, { clock: () => now });
    first.add('curl', 100, 100);
    recorder.flush();
    // The same recorder fed by totals that fell (a restarted meter behind the same source).
    first.map.clear();
    first.add('curl', 30, 40);
    now += 60_000;
    recorder.flush();
    assert.deepEqual(sums(db), { sent: 130, received: 140 });
  } finally {
    remove();
  }
});
