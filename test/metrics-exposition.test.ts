// The large families' text written directly (src/metrics/exposition-text.ts) is the text
// prom-client writes for the same samples, byte for byte — odd label values, empty families
// and the order of the families included — and promtool accepts it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { Traffic } from '../src/account/counters.js';
import { ExpositionRegistry } from '../src/metrics/exposition-text.js';
import { SessionMetrics, type SessionMetricsSource } from '../src/metrics/session-metrics.js';
import { SUBSCRIBER_APP, UNKNOWN_APP, type UsageTotal } from '../src/history/usage-key.js';
import { hasCommand } from './support/run-cli.js';

const counts = (n: number) => ({ sentBytes: n, receivedBytes: 2 * n, sentPackets: 1, receivedPackets: 2 });
const totals: UsageTotal[] = [
  { app: 'say "hi"', exe: 'C:\\odd\\path', user: 'root', interface: 'eth0', ...counts(100) },
  { app: 'two\nlines', exe: '/tmp/x"y\\z\nw', user: 'bob', interface: 'eth0', ...counts(5) },
  { app: 'ünïcødé 名前', exe: '/opt/{weird}=,app', user: '1000', interface: 'wlan0', ...counts(7) },
  { app: 'folded', exe: '/bin/folded', user: 'root', interface: 'eth0', ...counts(1) },
  { app: UNKNOWN_APP, exe: '', user: '', interface: 'eth0', ...counts(9) },
  { app: SUBSCRIBER_APP, exe: '', user: '', interface: 'lan0', host: '198.18.1.1', ...counts(1e15) },
  { app: SUBSCRIBER_APP, exe: '', user: '', interface: 'lan0', host: 'fd00:1::/64', ...counts(3) },
  { app: SUBSCRIBER_APP, exe: '', user: '', interface: 'lan0', host: '198.18.1.2', ...counts(1) },
];

function source(list: () => UsageTotal[]): SessionMetricsSource {
  const eth0 = new Traffic();
  eth0.add(114, 3, 216, 4);
  return {
    usageTotals: () => list().map((t) => ({ ...t })),
    kernelReadings: () => [{ name: 'eth0', counters: { rxBytes: 1000, txBytes: 900, rxPackets: 10, txPackets: 9, rxDropped: 0, txDropped: 0 } }],
    droppedPackets: () => new Map([['eth0', 3]]),
    meter: { interfaces: new Map([['eth0', eth0]]), otherByInterface: new Map(), connectionCount: 4 },
  };
}

/** The same metrics on an ExpositionRegistry and on prom-client's own, reading `list()` at each scrape. */
function registries(list: () => UsageTotal[], topApplications = 3): { direct: Registry; plain: Registry } {
  const options = { topApplications, subscribers: { enabled: true, max: 2 } };
  const direct = new ExpositionRegistry();
  const plain = new Registry();
  new SessionMetrics(source(list), direct, options);
  new SessionMetrics(source(list), plain, options);
  return { direct, plain };
}

test('the text written directly is what prom-client writes, scrape after scrape (series kept between scrapes)', async () => {
  let current = totals;
  const { direct, plain } = registries(() => current);
  const first = await direct.metrics();
  assert.ok(first.includes('netmeter_application_sent_bytes_total{app="say \\"hi\\"",exe="C:\\\\odd\\\\path",user="root",interface="eth0"} 100\n'), first);
  assert.ok(first.includes('netmeter_subscriber_sent_bytes_total{host="198.18.1.1",interface="lan0"} 1000000000000000\n'), first);
  assert.ok(first.includes('netmeter_subscriber_received_bytes_total{host="other",interface="lan0"} 2\n'), first);
  assert.equal(first, await plain.metrics());
  current = totals.map((t) => ({ ...t, sentBytes: t.sentBytes + 1 }));
  const second = await direct.metrics();
  assert.equal(second, await plain.metrics());
  assert.equal(Buffer.concat(await (direct as ExpositionRegistry).exposition()).toString('utf8'), second, 'what the server sends is the same text');
  assert.ok(second.includes('netmeter_application_sent_bytes_total{app="two\\nlines",exe="/tmp/x\\"y\\\\z\\nw",user="bob",interface="eth0"} 6\n'), second);
  if (hasCommand('promtool')) {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: second, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    assert.equal(check.stdout + check.stderr, '', 'promtool has no remark');
  }
});

test('families without series: HELP and TYPE only, as prom-client writes them', async () => {
  const { direct, plain } = registries(() => []);
  const text = await direct.metrics();
  assert.match(text, /# TYPE netmeter_subscriber_sent_bytes_total counter\n\n# HELP/);
  assert.equal(text, await plain.metrics());
  assert.equal(Buffer.concat(await (direct as ExpositionRegistry).exposition()).toString('utf8'), text);
});

test('values as prom-client writes them: 0, integers up to 2^53, fractions, and beyond', async () => {
  const values = [0, 1, 9, 10, 99, 100, 1234567890, 2 ** 53 - 1, 2 ** 53, 1e21, 0.5, 1e-7];
  const { direct, plain } = registries(() => values.map((v, i) => ({ app: `a${i}`, exe: '', user: 'u', interface: 'eth0', sentBytes: v, receivedBytes: v, sentPackets: v, receivedPackets: v })), 20);
  const text = Buffer.concat(await (direct as ExpositionRegistry).exposition()).toString('utf8');
  assert.equal(text, await plain.metrics());
  assert.ok(text.includes('netmeter_application_sent_bytes_total{app="a7",exe="",user="u",interface="eth0"} 9007199254740991\n'), text);
});
