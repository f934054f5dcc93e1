// The history's calendar: strict date parsing, local hours and days (half-hour zones, the
// days the clocks change), and billing periods on short months.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, billingPeriod, dayStart, formatDay, formatHour, hourStart, minuteStart, monthStart, parseDateTime, parseDay, parseMonth } from '../src/history/calendar.js';

/** Runs fn with the process in time zone tz (Node re-reads TZ when it is assigned). */
function inZone<T>(tz: string, fn: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

test('dates that do not exist are refused, not rolled over', () => {
  for (const bad of ['2026-13-45', '2026-02-30', '2025-02-29', '2026-00-10', '2026-1-32', '26-01-01', '2026/01/01', 'today', '']) {
    assert.equal(parseDay(bad), undefined, bad);
  }
  assert.equal(formatDay(parseDay('2024-02-29')!), '2024-02-29');
  assert.equal(formatDay(parseDay('2026-3-7')!), '2026-03-07');
  assert.equal(parseMonth('2026-13'), undefined);
  assert.equal(formatDay(parseMonth('2026-02')!), '2026-02-01');
  assert.equal(parseDateTime('2026-03-01 24:00'), undefined);
  assert.equal(parseDateTime('2026-03-01 12:60'), undefined);
  assert.equal(formatHour(parseDateTime('2026-03-01T12:34')!), '2026-03-01 12:00');
});

test('minutes, hours and days start where the local clock says', () => {
  inZone('UTC', () => {
    const t = Date.UTC(2026, 2, 14, 15, 42, 17) / 1000;
    assert.equal(minuteStart(t), Date.UTC(2026, 2, 14, 15, 42) / 1000);
    assert.equal(hourStart(t), Date.UTC(2026, 2, 14, 15) / 1000);
    assert.equal(dayStart(t), Date.UTC(2026, 2, 14) / 1000);
    assert.equal(monthStart(t), Date.UTC(2026, 2, 1) / 1000);
  });
  inZone('Asia/Kolkata', () => {
    // UTC+5:30: the local hour 21:00 began at 15:30 UTC.
    const t = Date.UTC(2026, 2, 14, 15, 42, 17) / 1000;
    assert.equal(hourStart(t), Date.UTC(2026, 2, 14, 15, 30) / 1000);
    assert.equal(dayStart(t), Date.UTC(2026, 2, 13, 18, 30) / 1000);
  });
});

test('days where the clocks change are 23 and 25 hours long', () => {
  inZone('America/New_York', () => {
    const spring = parseDay('2026-03-08')!;
    assert.equal(addDays(spring, 1) - spring, 23 * 3600);
    const autumn = parseDay('2026-11-01')!;
    assert.equal(addDays(autumn, 1) - autumn, 25 * 3600);
    // Both 01:xx hours of the autumn day start on their own hour, not on the first one.
    const secondOne = autumn + 2 * 3600 + 15 * 60; // 01:15 EST, the repeated hour
    assert.equal(hourStart(secondOne), autumn + 2 * 3600);
    assert.equal(hourStart(secondOne - 3600), autumn + 3600);
  });
});

test('billing periods start on the billing day, or the last day of a shorter month', () => {
  inZone('UTC', () => {
    const at = (s: string) => parseDateTime(s)!;
    let p = billingPeriod(at('2026-03-20 12:00'), 5);
    assert.deepEqual([formatDay(p.start), formatDay(p.end)], ['2026-03-05', '2026-04-05']);
    p = billingPeriod(at('2026-03-04 23:59'), 5);
    assert.deepEqual([formatDay(p.start), formatDay(p.end)], ['2026-02-05', '2026-03-05']);
    p = billingPeriod(at('2026-03-01 00:00'), 1);
    assert.deepEqual([formatDay(p.start), formatDay(p.end)], ['2026-03-01', '2026-04-01']);
    // 31: the last day of each month.
    p = billingPeriod(at('2026-02-28 10:00'), 31);
    assert.deepEqual([formatDay(p.start), formatDay(p.end)], ['2026-02-28', '2026-03-31']);
    p = billingPeriod(at('2026-02-27 10:00'), 31);
    assert.deepEqual([formatDay(p.start), formatDay(p.end)], ['2026-01-31', '2026-02-28']);
    p = billingPeriod(at('2026-12-15 10:00'), 10);
    assert.deepEqual([formatDay(p.start), formatDay(p.end)], ['2026-12-10', '2027-01-10']);
  });
});
