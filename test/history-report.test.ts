// The report: which rows a range selects (today, a day, a month, --since/--until), the
// dimensions, --top, --app and --interface filters, and the three outputs — the table with
// --graph bars, JSON (with cost, quota and projection) and CSV.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeHistory, openHistoryForReading, openHistoryForWriting, type HistoryDb } from '../src/history/database.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import { DEFAULT_CONFIG, parseHistoryConfig, type HistoryConfig } from '../src/history/config.js';
import { buildHistoryReport, OPEN_END, type HistoryReport } from '../src/history/report-document.js';
import { renderHistoryCsv, renderHistoryTable } from '../src/present/history-report-format.js';
import { drawBar } from '../src/present/usage-graph.js';
import type { Dimension, TimeRange } from '../src/history/queries.js';
import type { UsageTotal } from '../src/history/usage-key.js';
import { runCli } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';

const local = (y: number, m: number, d: number, h = 0, min = 0) => new Date(y, m - 1, d, h, min).getTime();

/**
 * A known history: firefox (alice, eth0) 1 MB received + 100 kB sent every day from March 1
 * to March 10 at 10:00; curl (bob, wlan0) 10 kB + 1 kB on March 5 at 23:30; "a, b" (an
 * application whose name needs CSV quoting) 5 bytes on March 10; and the kernel counters
 * of eth0, 2 MB a day.
 */
function buildHistory(path: string): void {
  const db = openHistoryForWriting(path);
  let now = local(2026, 3, 1, 0, 0);
  const totals = new Map<string, UsageTotal>();
  const add = (app: string, user: string, iface: string, sent: number, received: number) => {
    const t = totals.get(app) ?? { app, exe: `/usr/bin/${app}`, user, interface: iface, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };
    t.sentBytes += sent;
    t.receivedBytes += received;
    t.sentPackets += 1;
    t.receivedPackets += 1;
    totals.set(app, t);
  };
  const recorder = new HistoryRecorder(db, { totals: () => [...totals.values()].map((t) => ({ ...t })) }, { clock: () => now, bootId: 'b' });
  let rx = 0;
  recorder.flush([{ name: 'eth0', counters: { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 } }]);
  for (let day = 1; day <= 10; day++) {
    now = local(2026, 3, day, 10, 0);
    recorder.flush();
    add('firefox', 'alice', 'eth0', 100_000, 1_000_000);
    if (day === 10) add('a, b', 'alice', 'eth0', 2, 3);
    rx += 2_000_000;
    now = local(2026, 3, day, 10, 1);
    recorder.flush([{ name: 'eth0', counters: { rxBytes: rx, txBytes: rx / 4, rxPackets: 0, txPackets: 0 } }]);
    if (day === 5) {
      now = local(2026, 3, 5, 23, 30);
      recorder.flush();
      add('curl', 'bob', 'wlan0', 1_000, 10_000);
      now = local(2026, 3, 5, 23, 31);
      recorder.flush();
    }
  }
  closeHistory(db);
}

async function withHistory(fn: (db: HistoryDb, path: string) => Promise<void> | void): Promise<void> {
  const tmp = tempDir('history-report');
  try {
    const path = join(tmp.dir, 'netmeter.db');
    buildHistory(path);
    const db = openHistoryForReading(path);
    try {
      await fn(db, path);
    } finally {
      closeHistory(db);
    }
  } finally {
    tmp.remove();
  }
}

function build(db: HistoryDb, range: TimeRange, by: Dimension, extra: { top?: number; app?: string; interface?: string; config?: HistoryConfig; now?: number } = {}): HistoryReport {
  return buildHistoryReport(db, 'test.db', {
    range: { ...range, label: 'test' },
    by,
    filter: { ...(extra.app ? { app: extra.app } : {}), ...(extra.interface ? { interface: extra.interface } : {}) },
    ...(extra.top ? { top: extra.top } : {}),
    now: (extra.now ?? local(2026, 3, 10, 12)) / 1000,
    config: extra.config ?? DEFAULT_CONFIG,
  });
}

const day = (d: number): TimeRange => ({ since: local(2026, 3, d) / 1000, until: local(2026, 3, d + 1) / 1000 });
const ALL: TimeRange = { since: 0, until: OPEN_END };

test('ranges select their rows: a day, a month, an open range', () => withHistory((db) => {
  const fifth = build(db, day(5), 'app');
  assert.deepEqual(fifth.rows.map((r) => [r.app, r.receivedBytes, r.sentBytes]), [['firefox', 1_000_000, 100_000], ['curl', 10_000, 1_000]]);
  assert.equal(fifth.totals.totalBytes, 1_111_000);
  assert.deepEqual(fifth.interfaces, [{ interface: 'eth0', rxBytes: 2_000_000, txBytes: 500_000, rxPackets: 0, txPackets: 0, totalBytes: 2_500_000 }]);
  const march = build(db, { since: local(2026, 3, 1) / 1000, until: local(2026, 4, 1) / 1000 }, 'app');
  assert.equal(march.totals.totalBytes, 10 * 1_100_000 + 11_000 + 5);
  const april = build(db, { since: local(2026, 4, 1) / 1000, until: local(2026, 5, 1) / 1000 }, 'app');
  assert.deepEqual(april.rows, []);
  assert.equal(april.totals.totalBytes, 0);
  const lateOnTheFifth = build(db, { since: local(2026, 3, 5, 23) / 1000, until: local(2026, 3, 6) / 1000 }, 'app');
  assert.deepEqual(lateOnTheFifth.rows.map((r) => r.app), ['curl']);
}));

test('dimensions: user, interface, day (quiet days included), hour, month', () => withHistory((db) => {
  assert.deepEqual(build(db, ALL, 'user').rows.map((r) => [r.user, r.totalBytes]), [['alice', 11_000_005], ['bob', 11_000]]);
  assert.deepEqual(build(db, ALL, 'interface').rows.map((r) => [r.interface, r.totalBytes]), [['eth0', 11_000_005], ['wlan0', 11_000]]);
  const days = build(db, { since: local(2026, 2, 27) / 1000, until: local(2026, 3, 13) / 1000 }, 'day', { now: local(2026, 3, 12, 8) });
  // From the first day with traffic to today (the 12th): the 11th and 12th are empty rows.
  assert.deepEqual(days.rows.map((r) => r.day), ['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10', '2026-03-11', '2026-03-12']);
  assert.equal(days.rows[4]!.totalBytes, 1_111_000);
  assert.equal(days.rows[10]!.totalBytes, 0);
  const hours = build(db, day(5), 'hour', { now: local(2026, 3, 12) });
  assert.equal(hours.rows[0]!.hour, '2026-03-05 10:00');
  assert.equal(hours.rows[hours.rows.length - 1]!.hour, '2026-03-05 23:00');
  assert.equal(hours.rows.length, 14);
  assert.deepEqual(build(db, ALL, 'month').rows.map((r) => [r.month, r.totalBytes]), [['2026-03', 11_011_005]]);
}));

test('--top keeps the largest rows and says how many it left out; --app and --interface filter', () => withHistory((db) => {
  const top = build(db, ALL, 'app', { top: 1 });
  assert.deepEqual(top.rows.map((r) => r.app), ['firefox']);
  assert.equal(top.omittedRows, 2);
  assert.equal(top.totals.totalBytes, 11_011_005, 'totals cover every row');
  assert.deepEqual(build(db, ALL, 'day', { app: 'curl' }).rows.filter((r) => r.totalBytes > 0).map((r) => r.day), ['2026-03-05']);
  assert.equal(build(db, ALL, 'app', { interface: 'wlan0' }).totals.totalBytes, 11_000);
}));

test('cost per row, and billing: cost so far, quota used and left, projection', () => withHistory((db) => {
  const config = parseHistoryConfig({ currency: 'EUR', pricePerGB: 10, quotaGB: 0.05, billingDay: 1 }, 'x');
  const report = build(db, ALL, 'app', { config, now: local(2026, 3, 11) });
  assert.equal(report.rows[0]!.cost, (11_000_000 / 1e9) * 10);
  assert.equal(report.totals.cost, (11_011_005 / 1e9) * 10);
  const b = report.billing!;
  assert.equal(b.source, 'kernel');
  assert.deepEqual(b.interfaces, ['eth0']);
  assert.equal(b.periodStart, '2026-03-01');
  assert.equal(b.periodEnd, '2026-03-31');
  assert.equal(b.usedBytes, 25_000_000, 'eth0 rx + tx over ten days');
  assert.equal(b.cost, 0.25);
  assert.equal(b.quotaBytes, 50_000_000);
  assert.equal(b.quotaLeftBytes, 25_000_000);
  assert.equal(b.quotaUsedPercent, 50);
  assert.equal(b.elapsedDays, 10);
  assert.equal(b.projectedBytes, Math.round((25_000_000 * 31) / 10));
  assert.equal(b.projectedOverQuota, true);
  const text = renderHistoryTable(report, { graph: false, width: 100 });
  assert.match(text, /COST/);
  assert.match(text, /Billing period 2026-03-01 to 2026-03-31 \(day 11 of 31; kernel counters of eth0, all traffic\):/);
  assert.match(text, /used {7}23\.8 MiB, cost so far 0\.25 EUR/);
  assert.match(text, /quota {6}47\.7 MiB: 50\.0% used, 23\.8 MiB left/);
  assert.match(text, /projected {2}73\.9 MiB by the end of the period, 0\.78 EUR \(over the quota\)/);
}));

test('the table, the graph and CSV', () => withHistory((db) => {
  const table = renderHistoryTable(build(db, day(5), 'app'), { graph: false, width: 100 });
  const lines = table.split('\n');
  assert.equal(lines[0], 'netmeter history: test, by application');
  assert.match(lines[2]!, /^APPLICATION\s+PATH\s+RECEIVED\s+SENT\s+TOTAL$/);
  assert.match(lines[3]!, /^firefox\s+\/usr\/bin\/firefox\s+976\.6 KiB\s+97\.7 KiB\s+1\.05 MiB$/);
  assert.match(table, /^total\s+986\.3 KiB\s+98\.6 KiB\s+1\.06 MiB$/m);
  assert.match(table, /Interfaces \(kernel counters\):\n {2}eth0\s+rx\s+1\.91 MiB\s+tx\s+488\.3 KiB\s+total\s+2\.38 MiB$/m);

  const graph = renderHistoryTable(build(db, { since: local(2026, 3, 1) / 1000, until: local(2026, 3, 13) / 1000 }, 'day', { now: local(2026, 3, 12, 9) }), { graph: true, width: 80 });
  const rows = graph.split('\n').filter((l) => /^2026-03-\d\d/.test(l));
  assert.equal(rows.length, 12);
  const bar = (line: string) => (line.match(/[▓░]+$/)?.[0] ?? '');
  const longest = Math.max(...rows.map((r) => bar(r).length));
  assert.equal(bar(rows[4]!).length, longest, 'the busiest day (the 5th) has the longest bar');
  assert.equal(bar(rows[10]!), '', 'a quiet day has none');
  assert.ok(rows.every((r) => r.length <= 80), 'bars fit the terminal');
  assert.match(bar(rows[0]!), /^▓+░+$/, 'received first, then sent');
  assert.match(graph, /▓ received {2}░ sent/);

  const csv = renderHistoryCsv(build(db, ALL, 'app'));
  assert.equal(csv, [
    'app,exe,received_bytes,sent_bytes,total_bytes,received_packets,sent_packets',
    'firefox,/usr/bin/firefox,10000000,1000000,11000000,10,10',
    'curl,/usr/bin/curl,10000,1000,11000,1,1',
    '"a, b","/usr/bin/a, b",3,2,5,1,1',
    '',
  ].join('\r\n'));
}));

test('bars: proportional, at least one cell for any traffic, both directions visible', () => {
  assert.equal(drawBar(0, 0, 100, 10), '');
  assert.equal(drawBar(50, 50, 100, 10), '▓▓▓▓▓░░░░░');
  assert.equal(drawBar(1, 0, 1_000_000, 10), '▓');
  assert.equal(drawBar(999, 1, 1000, 10), '▓▓▓▓▓▓▓▓▓░');
  assert.equal(drawBar(1, 999, 1000, 10), '▓░░░░░░░░░');
});

test('the CLI: today by default, --day, --month, --json, --csv, --graph, a config with a price', { timeout: 60_000 }, () => withHistory(async (_db, path) => {
  const now = ['--now', '2026-03-05 23:59'];
  const today = await runCli(['report', '--db', path, ...now]);
  assert.equal(today.code, 0, today.stderr);
  assert.match(today.stdout, /^netmeter history: today \(2026-03-05\), by application/);
  assert.match(today.stdout, /^curl\s+\/usr\/bin\/curl\s+9\.77 KiB/m);

  const json = await runCli(['report', '--db', path, '--month', '--json', '--by', 'user', ...now]);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as HistoryReport;
  assert.equal(doc.version, 1);
  assert.equal(doc.range.label, '2026-03');
  assert.equal(doc.range.since, '2026-03-01 00:00:00');
  assert.equal(doc.range.until, '2026-04-01 00:00:00');
  assert.deepEqual(doc.rows.map((r) => [r.user, r.totalBytes]), [['alice', 11_000_005], ['bob', 11_000]]);

  const csv = await runCli(['report', '--db', path, '--day', '2026-03-10', '--csv']);
  assert.equal(csv.code, 0, csv.stderr);
  assert.match(csv.stdout, /^app,exe,received_bytes/);
  assert.equal(csv.stdout.trim().split('\r\n').length, 3);

  const config = join(path, '..', 'config.json');
  writeFileSync(config, JSON.stringify({ currency: 'USD', pricePerGB: 1, quotaGB: 1 }));
  const graph = await runCli(['report', '--db', path, '--graph', '--config', config, ...now]);
  assert.equal(graph.code, 0, graph.stderr);
  assert.match(graph.stdout, /^netmeter history: the last 30 days, by day/);
  assert.match(graph.stdout, /^2026-03-05 .*0\.00 USD ▓+░*$/m);
  assert.match(graph.stdout, /Billing period 2026-03-01 to 2026-03-31/);
  assert.match(graph.stdout, /quota {6}953\.7 MiB: 1\.3% used/);
}));
