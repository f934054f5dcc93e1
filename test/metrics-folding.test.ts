// The exporter's folding rule (src/metrics/application-folding.ts) and the text it serves:
// over seeded random histories of cumulative totals, every series only grows, all series
// add up to the totals at every scrape, at most N applications are named and "(unknown)"
// always is; program names with quotes, backslashes and newlines come out escaped, and
// promtool (Prometheus's own checker) finds nothing wrong with the text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { Traffic } from '../src/account/counters.js';
import { ApplicationFolding, OTHER_APP } from '../src/metrics/application-folding.js';
import { SessionMetrics, type SessionMetricsSource } from '../src/metrics/session-metrics.js';
import { UNKNOWN_APP, type UsageCounts, type UsageTotal } from '../src/history/usage-key.js';
import { hasCommand } from './support/run-cli.js';
import { seededRandom as random } from './support/seeded-random.js';

const FIELDS: Array<keyof UsageCounts> = ['sentBytes', 'receivedBytes', 'sentPackets', 'receivedPackets'];


const seriesKey = (s: { app: string; exe: string; user: string; interface: string }) => JSON.stringify([s.app, s.exe, s.user, s.interface]);

test('over random histories: series never go down, they add up to the totals, at most N are named, "(unknown)" always is', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = random(seed);
    const top = Math.floor(rand() * 5); // 0..4, fewer than the applications
    const folding = new ApplicationFolding(top);
    const totals = new Map<string, UsageTotal>();
    const previous = new Map<string, UsageCounts>();
    for (let scrape = 0; scrape < 60; scrape++) {
      // Some keys grow (new applications appear, some start late and grow fast), none goes down.
      const moves = 1 + Math.floor(rand() * 6);
      for (let m = 0; m < moves; m++) {
        const appIndex = Math.floor(rand() * (4 + scrape / 4));
        const app = appIndex === 0 ? UNKNOWN_APP : `app${appIndex}`;
        const exe = app === UNKNOWN_APP ? '' : `/usr/bin/${app}${rand() < 0.1 ? '-alt' : ''}`;
        const user = app === UNKNOWN_APP ? '' : rand() < 0.5 ? 'root' : 'alice';
        const iface = rand() < 0.7 ? 'eth0' : 'wlan0';
        const key = JSON.stringify([app, exe, user, iface]);
        let t = totals.get(key);
        if (!t) totals.set(key, (t = { app, exe, user, interface: iface, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 }));
        const packets = 1 + Math.floor(rand() * 20 * (appIndex + 1));
        t.sentPackets += packets;
        t.sentBytes += packets * 60;
        t.receivedPackets += packets * 2;
        t.receivedBytes += packets * 1400;
      }
      // Scrapes sometimes see a key before any byte (zero totals) too.
      const list = [...totals.values()].map((t) => ({ ...t }));
      const { series, folded, named } = folding.fold(list);
      const context = `seed ${seed}, top ${top}, scrape ${scrape}`;

      for (const f of FIELDS) {
        const want = list.reduce((sum, t) => sum + t[f], 0);
        const got = series.reduce((sum, s) => sum + s[f], 0);
        assert.equal(got, want, `${context}: ${f} of all series is the total`);
      }
      for (const s of series) {
        for (const f of FIELDS) assert.ok(s[f] >= 0, `${context}: ${seriesKey(s)} ${f} is not negative`);
        const before = previous.get(seriesKey(s));
        if (before) for (const f of FIELDS) assert.ok(s[f] >= before[f], `${context}: ${seriesKey(s)} ${f} went from ${before[f]} to ${s[f]}`);
      }
      // A series once exported is exported at every later scrape.
      const now = new Set(series.map(seriesKey));
      for (const key of previous.keys()) assert.ok(now.has(key), `${context}: ${key} disappeared`);
      for (const s of series) previous.set(seriesKey(s), { ...s });

      const namedApps = new Set(series.filter((s) => s.app !== OTHER_APP && s.app !== UNKNOWN_APP).map((s) => JSON.stringify([s.app, s.exe])));
      assert.ok(namedApps.size <= top, `${context}: ${namedApps.size} applications named, limit ${top}`);
      assert.equal(named, namedApps.size, context);
      const apps = new Set(list.filter((t) => t.app !== UNKNOWN_APP).map((t) => JSON.stringify([t.app, t.exe])));
      assert.equal(folded, apps.size - namedApps.size, `${context}: every application with bytes is named or folded`);
      const unknownBytes = list.filter((t) => t.app === UNKNOWN_APP).reduce((sum, t) => sum + t.sentBytes, 0);
      const unknownSeries = series.filter((s) => s.app === UNKNOWN_APP).reduce((sum, s) => sum + s.sentBytes, 0);
      assert.equal(unknownSeries, unknownBytes, `${context}: "(unknown)" is never folded`);
    }
  }
});

test('the heaviest applications with bytes take the free places, and keep them for the run', () => {
  const t = (app: string, sentBytes: number, user = 'u'): UsageTotal => ({ app, exe: `/bin/${app}`, user, interface: 'eth0', sentBytes, receivedBytes: 0, sentPackets: 1, receivedPackets: 0 });
  const view = (out: { series: Array<{ app: string; sentBytes: number }> }) => out.series.map((s) => [s.app, s.sentBytes]).sort();
  const one = new ApplicationFolding(1);
  // Nothing was shown before the first scrape: the heaviest is named with all its bytes.
  let out = one.fold([t('small', 10), t('big', 1000)]);
  assert.deepEqual(view(out), [['big', 1000], ['other', 10]]);
  assert.deepEqual([out.named, out.folded], [1, 1]);
  // "late" outgrows "big", but the place is taken for this run: "other" keeps growing instead.
  out = one.fold([t('small', 10), t('big', 1100), t('late', 5000)]);
  assert.deepEqual(view(out), [['big', 1100], ['other', 5010]]);
  assert.deepEqual([out.named, out.folded], [1, 2]);

  const two = new ApplicationFolding(2);
  two.fold([t('a', 100)]);
  // z without bytes takes no place (and shows 0 in "other"); once it has bytes it is named with all of them.
  out = two.fold([t('a', 100), t('z', 0)]);
  assert.deepEqual(view(out), [['a', 100], ['other', 0]]);
  assert.deepEqual([out.named, out.folded], [1, 0]);
  out = two.fold([t('a', 100), t('z', 30), t('z', 7, 'another user')]);
  assert.deepEqual(view(out), [['a', 100], ['z', 30], ['z', 7]]);
  assert.equal(out.named, 2);

  // A limit of 0: everything but "(unknown)" is "other".
  out = new ApplicationFolding(0).fold([t('a', 1), { ...t('(unknown)', 2), exe: '' }]);
  assert.deepEqual(view(out), [['(unknown)', 2], ['other', 1]]);
});

test('label values are escaped: quotes, backslashes and newlines in program names and paths; promtool accepts the text', async () => {
  const odd: UsageTotal[] = [
    { app: 'say "hi"', exe: 'C:\\odd\\path', user: 'root', interface: 'eth0', sentBytes: 100, receivedBytes: 200, sentPackets: 1, receivedPackets: 2 },
    { app: 'two\nlines', exe: '/tmp/x"y\\z\nw', user: 'bob', interface: 'eth0', sentBytes: 5, receivedBytes: 6, sentPackets: 1, receivedPackets: 1 },
    { app: 'ünïcødé 名前', exe: '/opt/{weird}=,app', user: '1000', interface: 'wlan0', sentBytes: 7, receivedBytes: 8, sentPackets: 1, receivedPackets: 1 },
    { app: UNKNOWN_APP, exe: '', user: '', interface: 'eth0', sentBytes: 9, receivedBytes: 10, sentPackets: 1, receivedPackets: 1 },
  ];
  const eth0 = new Traffic();
  eth0.add(114, 3, 216, 4);
  const source: SessionMetricsSource = {
    usageTotals: () => odd.map((t) => ({ ...t })),
    kernelReadings: () => [{ name: 'eth0', counters: { rxBytes: 1000, txBytes: 900, rxPackets: 10, txPackets: 9, rxDropped: 0, txDropped: 0 } }],
    droppedPackets: () => new Map([['eth0', 3]]),
    meter: { interfaces: new Map([['eth0', eth0]]), otherByInterface: new Map(), connectionCount: 4 },
  };
  const registry = new Registry();
  const metrics = new SessionMetrics(source, registry, { topApplications: 20 });
  metrics.beginScrape();
  const text = await registry.metrics();
  assert.ok(text.includes('netmeter_application_sent_bytes_total{app="say \\"hi\\"",exe="C:\\\\odd\\\\path",user="root",interface="eth0"} 100'), text);
  assert.ok(text.includes('app="two\\nlines",exe="/tmp/x\\"y\\\\z\\nw"'), text);
  assert.ok(text.includes('app="ünïcødé 名前",exe="/opt/{weird}=,app"'), text);
  assert.ok(text.includes('netmeter_application_received_bytes_total{app="(unknown)",exe="",user="",interface="eth0"} 10'), text);
  assert.ok(text.includes('netmeter_connections_active 4'), text);
  assert.ok(text.includes('netmeter_capture_dropped_packets_total{interface="eth0"} 3'), text);
  assert.ok(text.includes('netmeter_interface_unknown_transmitted_bytes_total{interface="eth0"} 9'), text);
  assert.ok(!text.includes('pid'), 'never a PID label');
  if (hasCommand('promtool')) {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    assert.equal(check.stdout + check.stderr, '', 'promtool has no remark');
  }
});

test('one reading of the session per scrape, and a new one at the next scrape even without beginScrape()', async () => {
  let reads = 0;
  let sent = 100;
  const source: SessionMetricsSource = {
    usageTotals: () => {
      reads++;
      return [{ app: 'a', exe: '/bin/a', user: 'u', interface: 'eth0', sentBytes: sent, receivedBytes: 0, sentPackets: 1, receivedPackets: 0 }];
    },
    kernelReadings: () => [],
    droppedPackets: () => new Map(),
    meter: { interfaces: new Map(), otherByInterface: new Map(), connectionCount: 0 },
  };
  const registry = new Registry();
  new SessionMetrics(source, registry, { topApplications: 5 });
  assert.match(await registry.metrics(), /netmeter_application_sent_bytes_total\{app="a",exe="\/bin\/a",user="u",interface="eth0"\} 100/);
  assert.equal(reads, 1, 'the application and interface collectors share one reading');
  sent = 250;
  assert.match(await registry.metrics(), /netmeter_application_sent_bytes_total\{app="a",exe="\/bin\/a",user="u",interface="eth0"\} 250/);
  assert.equal(reads, 2);
});
