// The daemon's flushes while the wall clock is stepped back an hour and forward a day:
// every byte lands in exactly one minute row — none lost, none doubled — and the rows are
// the minutes the clock said. The schedule and the recorder are the daemon's own; the
// clock and the traffic are the test's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { FlushSchedule } from '../src/history/flush-schedule.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import type { UsageTotal } from '../src/history/usage-key.js';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

test('the wall clock stepped back an hour and forward a day: no minute row lost or doubled', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nm-clock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openHistoryForWriting(join(dir, 'netmeter.db'));
  t.after(() => closeHistory(db));
  let wall = T0;
  const total: UsageTotal = { app: 'curl', exe: '/usr/bin/curl', user: 'alice', interface: 'eth0', sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };
  const recorder = new HistoryRecorder(db, { totals: () => [{ ...total }] }, { clock: () => wall });
  const flushes = new FlushSchedule(60_000, wall);
  const expected = new Map<number, number>(); // minute start (s) → bytes the clock put in it
  let pendingMinute = Math.floor(wall / 60_000) * 60;
  // Ten minutes of ticks, one a second, 1,000 bytes received each; the clock steps at 150 s and 400 s.
  for (let second = 1; second <= 600; second++) {
    wall += 1000;
    if (second === 150) wall -= 3_600_000;
    if (second === 400) wall += 86_400_000;
    total.receivedBytes += 1000;
    total.receivedPackets += 1;
    expected.set(pendingMinute, (expected.get(pendingMinute) ?? 0) + 1000);
    if (flushes.due(wall)) {
      recorder.flush([]);
      // What came after this flush goes into the minute the clock shows now.
      pendingMinute = Math.floor(wall / 60_000) * 60;
    }
  }
  recorder.flush([]);
  const rows = db.prepare<{ start: number; bytes: number }>('SELECT start, received_bytes AS bytes FROM usage_minute ORDER BY start').all();
  assert.equal(rows.reduce((n, r) => n + r.bytes, 0), 600_000, 'every byte once');
  assert.deepEqual(new Map(rows.map((r) => [r.start, r.bytes])), new Map([...expected].filter(([, b]) => b > 0)));
  // The rows are the minutes the clock showed: before the step back, an hour earlier, a day later.
  const starts = rows.map((r) => r.start * 1000);
  assert.ok(starts.some((s) => s < T0), 'rows an hour back');
  assert.ok(starts.some((s) => s > T0 + 23 * 3_600_000), 'rows a day ahead (of the clock stepped back)');
  assert.ok(rows.every((r) => r.bytes <= 61_000), `no row holds more than a minute of traffic: ${JSON.stringify(rows)}`);
});

test('a flush is due once per interval the wall clock enters, whichever way it moved', () => {
  const s = new FlushSchedule(60_000, T0 + 5_000);
  assert.equal(s.due(T0 + 59_000), false);
  assert.equal(s.due(T0 + 60_000), true);
  assert.equal(s.due(T0 + 61_000), false);
  assert.equal(s.due(T0 - 3_600_000), true, 'stepped back');
  assert.equal(s.due(T0 - 3_599_000), false);
  assert.equal(s.due(T0 + 86_400_000), true, 'stepped forward');
});
