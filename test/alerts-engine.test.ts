// The alert engine's rules one at a time, with hand-made results and an injected clock:
// contended results and local causes never open an incident, IPv4 and IPv6 are judged
// apart, retests go to another server, the baseline freezes during an incident, silences
// and maintenance hold messages back, reminders, and the usage detectors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAlertsConfig } from '../src/alerts/config.js';
import { AlertEngine } from '../src/alerts/engine.js';
import type { Decision, Family, SpeedMeasurement } from '../src/alerts/types.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 0, 0);

function engine(extra: Record<string, unknown> = {}) {
  return new AlertEngine(parseAlertsConfig({
    connections: [{ name: 'home', interface: 'eth0', provider: 'ISP', downloadMbps: 100, uploadMbps: 40 }],
    servers: ['a', 'b'],
    detectors: [
      { type: 'speed', direction: 'download', below: { planShare: 0.6 }, recoverAbove: { planShare: 0.7 } },
      { type: 'latency', aboveMs: 80, recoverBelowMs: 50 },
      { type: 'outage' },
    ],
    ...extra,
  }, 'test'));
}

function speed(at: number, mbps: number, more: Partial<SpeedMeasurement> = {}): SpeedMeasurement {
  return { at, server: 'a', family: 'ipv4', interface: 'eth0', downloadMbps: mbps, latencyMs: 10, failed: false, contended: false, ...more };
}

/** Feeds a scheduled result each hour from `start`, and every retest the engine asks for with the same speed. */
function run(e: AlertEngine, start: number, hours: number, mbps: number | ((at: number) => number), more: Partial<SpeedMeasurement> = {}): Decision[] {
  const out: Decision[] = [];
  for (let i = 0; i < hours; i++) {
    const at = start + i * HOUR;
    const value = typeof mbps === 'number' ? mbps : mbps(at);
    const pending = [speed(at, value, more)];
    while (pending.length > 0) {
      const m = pending.shift()!;
      const decisions = [...e.tick(m.at), ...e.observeSpeed(m)];
      out.push(...decisions);
      for (const d of decisions) if (d.kind === 'retest') pending.push(speed(d.at, value, { ...more, server: d.server ?? 'a', retest: true }));
    }
  }
  return out;
}

const notes = (ds: Decision[]) => ds.filter((d) => d.kind === 'notify').map((d) => (d.kind === 'notify' ? `${d.event.kind} ${d.event.incident.subject}` : ''));

test('a bad result asks for retests on the other server; five bad of six open one incident; recovery after three good scheduled tests', () => {
  const e = engine();
  const first = e.observeSpeed(speed(T0, 30));
  assert.deepEqual(first, [{ kind: 'retest', at: T0 + 5 * 60_000, family: 'ipv4', interface: 'eth0', server: 'b', reason: 'confirm a bad result' }]);
  const all = run(e, T0 + 5 * 60_000, 3, 30);
  assert.deepEqual(notes(all), ['open home ipv4 download']);
  const open = all.find((d) => d.kind === 'notify');
  assert.ok(open?.kind === 'notify');
  assert.match(open.event.incident.summary, /download 30\.0 Mbit\/s from a, 30% of the 100 Mbit\/s plan; level 60\.0 Mbit\/s \(60% of the plan\)/);
  assert.equal(open.event.incident.planMbps, 100);
  assert.ok(open.event.incident.evidence.filter((x) => x.retest).length >= 2);
  // Between the levels (65) is not a recovery; then three at 90 are.
  assert.deepEqual(notes(run(e, T0 + 4 * HOUR, 2, 65)), []);
  const back = run(e, T0 + 6 * HOUR, 3, 90);
  assert.deepEqual(notes(back), ['recovery home ipv4 download']);
  const recovery = back.find((d) => d.kind === 'notify');
  assert.ok(recovery?.kind === 'notify');
  assert.equal(recovery.event.id, `${open.event.incident.id}-recovery`);
  assert.equal(recovery.event.incident.closedAt, T0 + 8 * HOUR);
});

test('contended results never open an incident on their own, and ask for a clean retest', () => {
  const e = engine();
  const all = run(e, T0, 24, 20, { contended: true });
  assert.deepEqual(notes(all), []);
  assert.ok(all.some((d) => d.kind === 'set-aside' && /contended/.test(d.reason)));
  assert.ok(all.some((d) => d.kind === 'retest'));
});

test('local causes are ruled out first: interface down, link saturated by other programs', () => {
  const e = engine();
  e.observeLocal({ at: T0, interface: 'eth0', up: false });
  const down = run(e, T0, 12, 0, { failed: true, downloadMbps: undefined });
  assert.deepEqual(notes(down), [], 'no outage blamed on the provider while eth0 is down');
  assert.ok(down.some((d) => d.kind === 'set-aside' && d.reason === 'interface eth0 is down'));
  e.observeLocal({ at: T0, interface: 'eth0', up: true, otherTrafficShare: 0.9 });
  const busy = run(e, T0 + 12 * HOUR, 12, 20);
  assert.deepEqual(notes(busy), []);
  assert.ok(busy.some((d) => d.kind === 'set-aside' && /saturated by other programs \(90%/.test(d.reason)));
  e.observeLocal({ at: T0, interface: 'eth0', up: true, otherTrafficShare: 0 });
  assert.deepEqual(notes(run(e, T0 + 24 * HOUR, 3, 20)), ['open home ipv4 download']);
});

test('IPv4 and IPv6 are judged apart', () => {
  const e = engine();
  const slow6 = (family: Family) => (family === 'ipv6' ? 20 : 95);
  const out: Decision[] = [];
  for (let i = 0; i < 4; i++) {
    for (const family of ['ipv4', 'ipv6'] as const) {
      const at = T0 + i * HOUR;
      out.push(...e.observeSpeed(speed(at, slow6(family), { family })));
      out.push(...e.observeSpeed(speed(at + 60_000, slow6(family), { family, retest: true })));
      out.push(...e.observeSpeed(speed(at + 120_000, slow6(family), { family, retest: true })));
    }
  }
  assert.deepEqual(notes(out), ['open home ipv6 download']);
});

test('outage: tests that reach no server, confirmed by retests, one message; latency above its level', () => {
  const e = engine();
  const out = run(e, T0, 2, 0, { failed: true, downloadMbps: undefined, latencyMs: undefined });
  assert.deepEqual(notes(out), ['open home ipv4 outage']);
  assert.deepEqual(notes(run(e, T0 + 2 * HOUR, 1, 95)), ['recovery home ipv4 outage']);
  assert.deepEqual(notes(run(e, T0 + 3 * HOUR, 3, 95, { latencyMs: 120 })), ['open home ipv4 latency']);
  assert.deepEqual(notes(run(e, T0 + 6 * HOUR, 3, 95, { latencyMs: 60 })), [], '60 ms is between the levels');
  assert.deepEqual(notes(run(e, T0 + 9 * HOUR, 3, 95, { latencyMs: 20 })), ['recovery home ipv4 latency']);
});

test('an outage needs failures on two servers when two are configured: one unreachable server is not an outage', () => {
  const e = engine();
  const one: Decision[] = [];
  for (let i = 0; i < 6; i++) one.push(...e.observeSpeed(speed(T0 + i * HOUR, 0, { failed: true, downloadMbps: undefined, server: 'a' })));
  assert.deepEqual(notes(one), []);
  assert.ok(one.some((d) => d.kind === 'retest' && d.server === 'b'), 'asks for a retest on b');
  assert.deepEqual(notes(e.observeSpeed(speed(T0 + 6 * HOUR + 300_000, 0, { failed: true, downloadMbps: undefined, server: 'b', retest: true }))), ['open home ipv4 outage']);
});

test('reminders while an incident stays open; none after recovery', () => {
  const e = engine({ detectors: [{ type: 'speed', direction: 'download', below: { planShare: 0.6 }, remindEveryHours: 6 }] });
  assert.deepEqual(notes(run(e, T0, 2, 30)), ['open home ipv4 download']);
  const during = [...run(e, T0 + 2 * HOUR, 12, 30), ...e.tick(T0 + 14 * HOUR)];
  assert.deepEqual(notes(during), ['reminder home ipv4 download', 'reminder home ipv4 download']);
  const ids = during.flatMap((d) => (d.kind === 'notify' ? [d.event.id] : []));
  assert.notEqual(ids[0], ids[1]);
  assert.deepEqual(notes(run(e, T0 + 14 * HOUR, 3, 95)), ['recovery home ipv4 download']);
  assert.deepEqual(notes(e.tick(T0 + 40 * HOUR)), []);
});

test('a silence holds messages back and releases the opening when it ends; opened and recovered inside it: nothing', () => {
  const e = engine({ silences: [{ from: new Date(T0).toISOString(), until: new Date(T0 + 10 * HOUR).toISOString(), reason: 'on holiday' }] });
  const during = run(e, T0, 3, 30);
  assert.deepEqual(notes(during), []);
  const held = during.find((d) => d.kind === 'held');
  assert.ok(held?.kind === 'held' && /silenced until .* \(on holiday\)/.test(held.reason));
  const after = e.tick(T0 + 10 * HOUR);
  assert.deepEqual(notes(after), ['open home ipv4 download']);
  assert.ok(after[0]?.kind === 'notify' && held.event.id === after[0].event.id, 'the same event id, sent late');

  const e2 = engine({ silences: [{ from: new Date(T0).toISOString(), until: new Date(T0 + 10 * HOUR).toISOString() }] });
  run(e2, T0, 3, 30);
  run(e2, T0 + 3 * HOUR, 3, 95);
  assert.deepEqual(notes(e2.tick(T0 + 11 * HOUR)), []);
});

test('a daily maintenance window: results in it are not counted', () => {
  const e = engine({ timeZone: 'UTC', maintenance: [{ daily: '02:00-05:00' }] });
  const out = run(e, T0 + 2 * HOUR, 3, 30);
  assert.deepEqual(notes(out), []);
  assert.ok(out.every((d) => d.kind === 'set-aside' && d.reason === 'maintenance window'));
});

test('the baseline: a share of the connection\'s own median per server, frozen while an incident is open', () => {
  const e = engine({ detectors: [{ type: 'speed', direction: 'download', below: { baselineShare: 0.7 }, recoverAbove: { baselineShare: 0.8 } }], baseline: { minSamples: 10, minHourSamples: 100 } });
  assert.deepEqual(notes(run(e, T0, 12, 200)), [], 'no baseline yet: nothing is judged');
  const open = run(e, T0 + 12 * HOUR, 3, 120);
  assert.deepEqual(notes(open), ['open home ipv4 download'], '120 is below 70% of the usual 200');
  // 50 hours at 120: a baseline that kept learning would make 120 normal and close the incident.
  assert.deepEqual(notes(run(e, T0 + 15 * HOUR, 50, 120)), []);
  assert.deepEqual(notes(run(e, T0 + 65 * HOUR, 3, 170)), ['recovery home ipv4 download']);
});

test('usage: quota shares once per period, a projection over quota, a hog, capture loss', () => {
  const e = new AlertEngine(parseAlertsConfig({
    connections: [{ name: 'home', downloadMbps: 100 }],
    detectors: [{ type: 'quota', shares: [0.8, 1] }, { type: 'projection' }, { type: 'hog', share: 0.5, forMinutes: 10 }, { type: 'captureLoss', share: 0.01, forMinutes: 5 }],
  }, 'test'));
  const period = { periodStart: T0, periodEnd: T0 + 30 * 24 * HOUR, quotaBytes: 100e9 };
  const kinds = (ds: Decision[]) => ds.flatMap((d) => (d.kind === 'notify' ? [`${d.event.kind} ${d.event.incident.subject}: ${d.event.incident.summary}`] : []));
  assert.deepEqual(kinds(e.observeUsage({ at: T0 + 24 * HOUR, quota: { ...period, usedBytes: 2e9 } })), []);
  assert.deepEqual(kinds(e.observeUsage({ at: T0 + 5 * 24 * HOUR, quota: { ...period, usedBytes: 20e9 } })),
    ['notice projection: at this pace the period ends at 120.0 GB, over the quota of 100.0 GB (20.0 GB used so far)']);
  assert.deepEqual(kinds(e.observeUsage({ at: T0 + 20 * 24 * HOUR, quota: { ...period, usedBytes: 81e9 } })), ['notice quota 80%: 81% of the monthly quota used: 81.0 GB of 100.0 GB']);
  assert.deepEqual(kinds(e.observeUsage({ at: T0 + 21 * 24 * HOUR, quota: { ...period, usedBytes: 85e9 } })), []);
  assert.deepEqual(kinds(e.observeUsage({ at: T0 + 22 * 24 * HOUR, quota: { ...period, usedBytes: 100e9 } })).length, 1);
  // Next period: again.
  const next = { periodStart: T0 + 30 * 24 * HOUR, periodEnd: T0 + 60 * 24 * HOUR, quotaBytes: 100e9 };
  assert.equal(kinds(e.observeUsage({ at: T0 + 59 * 24 * HOUR, quota: { ...next, usedBytes: 90e9 } })).length, 1);

  const hog = (minute: number, mbps: number) => e.observeUsage({ at: T0 + minute * 60_000, programs: [{ app: 'steam', bytesPerSecond: (mbps * 1e6) / 8 }, { app: 'firefox', bytesPerSecond: 1e5 }] });
  const hogs: Decision[] = [];
  for (let minute = 0; minute <= 10; minute++) hogs.push(...hog(minute, 70));
  assert.deepEqual(kinds(hogs), ['open steam: steam used 70% of the 100 Mbit/s link for 10 min or more']);
  const calm: Decision[] = [];
  for (let minute = 11; minute <= 30; minute++) calm.push(...hog(minute, minute < 15 ? 45 : 5));
  assert.deepEqual(kinds(calm).map((k) => k.split(':')[0]), ['recovery steam'], '45% is between the levels; 5% for 10 min recovers');

  const loss: Decision[] = [];
  for (let minute = 0; minute <= 5; minute++) loss.push(...e.observeUsage({ at: T0 + minute * 60_000, capture: [{ interface: 'eth0', packets: 9800, dropped: 200 }] }));
  assert.deepEqual(kinds(loss), ['open eth0: capture on eth0 lost 2.00% of packets (200 of 10000): usage figures are short']);
});

test('an incident restored after a restart stays open: no second opening, and its recovery keeps the id', () => {
  const e = engine();
  const opened = run(e, T0, 3, 30).find((d) => d.kind === 'notify');
  assert.ok(opened?.kind === 'notify');
  const restarted = engine();
  restarted.restoreOpen(e.openIncidents(), T0 + 3 * HOUR);
  assert.deepEqual(notes(run(restarted, T0 + 3 * HOUR, 3, 30)), []);
  const back = run(restarted, T0 + 6 * HOUR, 3, 95).find((d) => d.kind === 'notify');
  assert.ok(back?.kind === 'notify');
  assert.equal(back.event.id, `${opened.event.incident.id}-recovery`);
});

test('an opening held by a silence when the process restarted is sent when the silence ends', () => {
  const silence = { silences: [{ from: new Date(T0).toISOString(), until: new Date(T0 + 10 * HOUR).toISOString() }] };
  const e = engine(silence);
  const held = run(e, T0, 3, 30).find((d) => d.kind === 'held');
  assert.ok(held?.kind === 'held');
  const restarted = engine(silence);
  restarted.restoreOpen(e.openIncidents(), T0 + 4 * HOUR, new Set([held.event.incident.id]));
  assert.deepEqual(notes(restarted.tick(T0 + 5 * HOUR)), []);
  const after = restarted.tick(T0 + 10 * HOUR);
  assert.deepEqual(notes(after), ['open home ipv4 download']);
  assert.ok(after[0]?.kind === 'notify' && after[0].event.id === held.event.id);
});

test('after a restart the baseline relearns from stored results, leaving out those taken during an incident', () => {
  const config = { detectors: [{ type: 'speed', direction: 'download', below: { baselineShare: 0.7 } }], baseline: { minSamples: 10, minHourSamples: 100 } };
  const history = Array.from({ length: 12 }, (_, i) => speed(T0 + i * HOUR, 200));
  const during = Array.from({ length: 20 }, (_, i) => speed(T0 + (12 + i) * HOUR, 100));
  const incident = { id: 'x', detector: 'speed-download', series: 'speed-download|home|ipv4', type: 'speed', subject: '', openedAt: T0 + 12 * HOUR, closedAt: T0 + 40 * HOUR, summary: '', evidence: [] };
  const warm = engine(config);
  warm.warmBaseline([...history, ...during], [incident]);
  assert.deepEqual(notes(run(warm, T0 + 50 * HOUR, 3, 120)), ['open home ipv4 download'], 'the usual 200, not the 100 of the incident');
  const cold = engine(config);
  assert.deepEqual(notes(run(cold, T0 + 50 * HOUR, 3, 120)), [], 'no history: nothing to judge against');
});
