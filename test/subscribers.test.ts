// Per-subscriber accounting (attribute/subscribers.ts) and what is built on it: the grouping
// of addresses into subscribers, the meter crediting subscribers (forwarded traffic, and a
// packet between two subscribers), the advice when subscribers cannot be told apart, the
// --by host options, the config's subscriber plans and metrics bound, and the folding of
// host series past the bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Meter } from '../src/account/meter.js';
import type { Attribution } from '../src/account/attribution.js';
import { SubscriberAttribution, subscriberOf } from '../src/attribute/subscribers.js';
import { LinkType, PacketBatchBuilder, type PacketBatch } from '../src/capture/packet-batch.js';
import { parseCidr, parseIp, cidrContains, type Cidr } from '../src/decode/address.js';
import { buildUsageReport } from '../src/present/usage-report.js';
import { MeterTotals } from '../src/history/meter-totals.js';
import { SUBSCRIBER_APP } from '../src/history/usage-key.js';
import { parseConfigFile } from '../src/config/config-file.js';
import { planOf } from '../src/history/subscriber-billing.js';
import { SubscriberFolding } from '../src/metrics/subscriber-metrics.js';
import { subscriberOptions } from '../src/cli/capture-options.js';
import { UsageError } from '../src/cli/usage-error.js';
import { renderUsageTable } from '../src/present/usage-table.js';
import { ipv4, ipv6, tcp, udp } from './support/packet-builder.js';

const WHERE = 'config /etc/netmeter/config.json';

function batch(packets: Array<{ bytes: Buffer; wire: number }>): PacketBatch {
  const builder = new PacketBatchBuilder(packets.length);
  let offset = 0;
  for (const [i, p] of packets.entries()) {
    builder.push(offset, p.bytes.length, p.wire, 1000 + i, 0);
    offset += p.bytes.length;
  }
  return builder.take(Buffer.concat(packets.map((p) => p.bytes)), [{ name: 'lan0', linkType: LinkType.RAW }]);
}

/** A router: its own addresses 198.18.1.1 and 198.18.9.1; the subscribers are --local 198.18.1.0/24 and fd00:1::/48. */
function router(cidrs: Cidr[] = ['198.18.1.0/24', 'fd00:1::/48'].map((c) => parseCidr(c)!)): Attribution {
  return {
    isLocal: (a) => {
      if (a === '198.18.1.1' || a === '198.18.9.1') return true;
      const bytes = parseIp(a.startsWith('::ffff:') ? a.slice(7) : a);
      return bytes !== undefined && cidrs.some((c) => cidrContains(c, bytes));
    },
    // A process owns the router's own sockets; a subscriber's ports are nobody's here.
    owner: (_p, local) => (local === '198.18.1.1' ? { pid: 1, name: 'dnsmasq', cmdline: '', user: 'root', uid: 0 } : undefined),
  };
}
const LOCAL = ['198.18.1.0/24', 'fd00:1::/48'].map((c) => parseCidr(c)!);

test('subscriberOf: an IPv4 address is itself, an IPv4-mapped one its IPv4, an IPv6 one its prefix', () => {
  assert.equal(subscriberOf('198.18.1.12', 64), '198.18.1.12');
  assert.equal(subscriberOf('::ffff:198.18.1.12', 64), '198.18.1.12');
  assert.equal(subscriberOf('fd00:1:0:3:a:b:c:d', 64), 'fd00:1:0:3::/64');
  assert.equal(subscriberOf('fd00:1:0:3::2', 64), subscriberOf('fd00:1:0:3:ffff::9', 64), 'one /64, one subscriber');
  assert.equal(subscriberOf('fd00:1:0:3:a:b:c:d', 56), 'fd00:1::/56');
  assert.equal(subscriberOf('fd00:1:0:3ff:a:b:c:d', 56), 'fd00:1:0:300::/56', 'a prefix not on a word boundary');
  assert.equal(subscriberOf('fd00:1:0:3:a:b:c:d', 128), 'fd00:1:0:3:a:b:c:d');
  assert.equal(subscriberOf('not an address', 64), undefined);
});

test('the meter credits the local end\'s subscriber: forwarded traffic, one /64, and a packet between two subscribers', () => {
  const meter = new Meter(new SubscriberAttribution(router(), LOCAL, 64));
  meter.ingest(batch([
    // Subscriber .11 to the internet and back (forwarded by the router).
    { bytes: ipv4('198.18.1.11', '198.18.9.2', 6, tcp(40000, 443, 0x02)), wire: 74 },
    { bytes: ipv4('198.18.9.2', '198.18.1.11', 6, tcp(443, 40000, 0x12)), wire: 74 },
    // Two addresses of one /64: one subscriber.
    { bytes: ipv6('fd00:1:0:2::2', 'fd00:9::2', 17, udp(5000, 53, 10)), wire: 100 },
    { bytes: ipv6('fd00:1:0:2::3', 'fd00:9::2', 17, udp(5001, 53, 10)), wire: 200 },
    // Subscriber .11 to subscriber .12: the sender's upload and the receiver's download.
    { bytes: ipv4('198.18.1.11', '198.18.1.12', 17, udp(6000, 6001, 20)), wire: 300 },
    // Neither end a subscriber nor this host: unknown.
    { bytes: ipv4('198.18.9.2', '198.18.9.3', 17, udp(7000, 7001, 0)), wire: 50 },
  ]));
  const report = buildUsageReport(meter, { kind: 'live', interfaces: ['lan0'] }, 1);
  const rows = new Map(report.processes.map((p) => [p.host, p]));
  assert.deepEqual([...rows.keys()].sort(), ['198.18.1.11', '198.18.1.12', 'fd00:1:0:2::/64']);
  assert.deepEqual([rows.get('198.18.1.11')!.sentBytes, rows.get('198.18.1.11')!.receivedBytes], [74 + 300, 74]);
  assert.deepEqual([rows.get('198.18.1.12')!.sentBytes, rows.get('198.18.1.12')!.receivedBytes], [0, 300]);
  assert.deepEqual([rows.get('fd00:1:0:2::/64')!.sentBytes, rows.get('fd00:1:0:2::/64')!.receivedBytes], [300, 0]);
  for (const p of report.processes) {
    assert.equal(p.pid, null, 'a subscriber row has no pid');
    assert.equal(p.name, p.host);
  }
  assert.equal(report.unknown.bytes, 50);
  assert.ok(report.connections.filter((c) => c.host !== undefined).every((c) => c.pid === null));
  // The history files each subscriber under its own key.
  const totals = new MeterTotals(meter, { userName: () => undefined }).totals();
  const hosts = totals.filter((t) => t.host !== undefined);
  assert.ok(hosts.every((t) => t.app === SUBSCRIBER_APP && t.exe === '' && t.user === ''));
  assert.equal(hosts.reduce((s, t) => s + t.sentBytes + t.receivedBytes, 0), 74 + 300 + 74 + 300 + 300);
});

test('advice: --by host without --local; only this host\'s own address seen (a NAT uplink); none once subscribers are seen', () => {
  const noLocal = new SubscriberAttribution(router([]), [], 64);
  assert.match(noLocal.captureAdvice()!, /without --local.*capture on the inside interface/);

  const uplink = new SubscriberAttribution(router(), LOCAL, 64);
  assert.equal(uplink.captureAdvice(), undefined, 'nothing seen: nothing to say');
  assert.equal(uplink.owner('tcp', '198.18.9.1', 40000, '198.18.9.2', 443)?.host, '198.18.9.1', "the router's own address is credited as itself");
  assert.match(uplink.captureAdvice()!, /only at this host's own address 198\.18\.9\.1.*NAT uplink.*capture on the inside interface/);

  const inside = new SubscriberAttribution(router(), LOCAL, 64);
  inside.owner('tcp', '198.18.9.1', 40000, '198.18.9.2', 443);
  inside.owner('tcp', '198.18.1.11', 40000, '198.18.9.2', 443);
  assert.equal(inside.captureAdvice(), undefined);
  assert.equal(inside.owner('tcp', '198.18.9.2', 443, '198.18.1.11', 40000), undefined, 'not local: no subscriber');
});

test('--by host and --ipv6-prefix: parsed, or one-line usage errors', () => {
  assert.deepEqual(subscriberOptions({}), {});
  assert.deepEqual(subscriberOptions({ by: 'host' }), { byHost: { ipv6Prefix: 64 } });
  assert.deepEqual(subscriberOptions({ by: 'host', 'ipv6-prefix': '56' }), { byHost: { ipv6Prefix: 56 } });
  assert.throws(() => subscriberOptions({ by: 'process' }), (e: unknown) => e instanceof UsageError && /--by: 'process' is not host/.test(e.message));
  assert.throws(() => subscriberOptions({ by: 'host', 'ipv6-prefix': '129' }), /--ipv6-prefix: '129' is not a prefix length from 1 to 128/);
  assert.throws(() => subscriberOptions({ 'ipv6-prefix': '64' }), /--ipv6-prefix goes with --by host/);
});

test('history.subscribers: plans by address or CIDR, first match wins; bad ones named in one line', () => {
  const config = parseConfigFile({ history: { pricePerGB: 0.5, subscribers: [{ host: '198.18.1.11', quotaGB: 10 }, { host: '198.18.1.0/24', quotaGB: 50, pricePerGB: 0.2 }, { host: 'fd00:1::/48', quotaGB: 20 }] } }, WHERE).history;
  const plans = config.subscribers!;
  assert.equal(planOf(plans, '198.18.1.11')?.quotaGB, 10);
  assert.equal(planOf(plans, '198.18.1.12')?.quotaGB, 50);
  assert.equal(planOf(plans, 'fd00:1:0:3::/64')?.quotaGB, 20, 'a /64 inside the /48');
  assert.equal(planOf(plans, 'fd00::/32'), undefined, 'a prefix wider than the plan is not inside it');
  assert.equal(planOf(plans, '198.18.2.1'), undefined);
  const bad: Array<[unknown, RegExp]> = [
    [{ subscribers: { host: '198.18.1.11' } }, /history: subscribers must be a list like \[/],
    [{ subscribers: ['198.18.1.11'] }, /subscribers\[0\] must be an object/],
    [{ subscribers: [{ host: '198.18.1.300', quotaGB: 1 }] }, /subscribers\[0\]\.host must be an address or CIDR .*got "198\.18\.1\.300"/],
    [{ subscribers: [{ host: '198.18.1.1', quota: 1 }] }, /unknown setting 'quota' in subscribers\[0\] \(known: host, quotaGB, pricePerGB\)/],
    [{ subscribers: [{ host: '198.18.1.1', quotaGB: 0 }] }, /subscribers\[0\]\.quotaGB must be a number above 0/],
    [{ subscribers: [{ host: '198.18.1.1' }] }, /subscribers\[0\] gives neither quotaGB nor pricePerGB/],
  ];
  for (const [history, message] of bad) {
    assert.throws(() => parseConfigFile({ history }, WHERE), (e: unknown) => e instanceof Error && message.test(e.message) && !e.message.includes('\n') && e.message.startsWith(WHERE), JSON.stringify(history));
  }
});

test('metrics.subscribers: opt-in, max bounded; bad values in one line', () => {
  assert.deepEqual(parseConfigFile({ metrics: { subscribers: { enabled: true } } }, WHERE).metrics.subscribers, { enabled: true, max: 1000 });
  const bad: Array<[unknown, RegExp]> = [
    [{ subscribers: true }, /subscribers must be an object like \{"enabled": true, "max": 1000\}/],
    [{ subscribers: { enabled: 'yes' } }, /subscribers\.enabled must be true or false/],
    [{ subscribers: { max: 0 } }, /subscribers\.max must be a whole number from 1 to 100000 \(got 0\)/],
    [{ subscribers: { limit: 5 } }, /unknown subscribers setting 'limit' \(known: enabled, max\)/],
  ];
  for (const [metrics, message] of bad) assert.throws(() => parseConfigFile({ metrics }, WHERE), message);
});

test('host series: at most max subscribers named, the heaviest first; the rest host="other"; not enabled, all "other"; sums kept', () => {
  const t = (host: string, iface: string, bytes: number) => ({ app: SUBSCRIBER_APP, exe: '', user: '', interface: iface, host, sentBytes: bytes, receivedBytes: 0, sentPackets: 1, receivedPackets: 0 });
  const first = [t('198.18.1.1', 'lan0', 100), t('198.18.1.2', 'lan0', 300), t('198.18.1.3', 'lan0', 200), t('198.18.1.3', 'lan1', 5)];
  const folding = new SubscriberFolding({ enabled: true, max: 2 });
  const one = folding.fold(first);
  const byKey = (f: typeof one) => new Map(f.series.map((s) => [`${s.host} ${s.interface}`, s.sentBytes]));
  assert.deepEqual(byKey(one), new Map([['other lan0', 100], ['198.18.1.2 lan0', 300], ['198.18.1.3 lan0', 200], ['198.18.1.3 lan1', 5]]));
  assert.equal(one.folded, 1);
  assert.equal(one.named, 2);
  // A named subscriber keeps its series; a new heavy one cannot take a place: the bound holds.
  const two = folding.fold([...first, t('198.18.1.4', 'lan0', 10_000)]);
  assert.equal(two.named, 2);
  assert.equal(byKey(two).get('other lan0'), 10_100);
  const sum = (f: typeof one) => f.series.reduce((s, x) => s + x.sentBytes, 0);
  assert.equal(sum(two), 100 + 300 + 200 + 5 + 10_000);

  const off = new SubscriberFolding({ enabled: false, max: 1000 }).fold(first);
  assert.deepEqual(byKey(off), new Map([['other lan0', 600], ['other lan1', 5]]));
  assert.equal(off.named, 0);
});

test('the plain table with --by host: a SUBSCRIBER column, then unknown, other and total', () => {
  const meter = new Meter(new SubscriberAttribution(router(), LOCAL, 64));
  meter.ingest(batch([
    { bytes: ipv4('198.18.1.11', '198.18.9.2', 17, udp(5000, 53, 10)), wire: 1000 },
    { bytes: ipv6('fd00:1:0:2::2', 'fd00:9::2', 17, udp(5000, 53, 10)), wire: 3000 },
  ]));
  const report = { ...buildUsageReport(meter, { kind: 'live', interfaces: ['lan0'] }, 1), by: 'host' as const };
  const lines = renderUsageTable(report, { sort: 'total' }).split('\n');
  assert.match(lines[0]!, /^SUBSCRIBER +SENT +RECEIVED +TOTAL$/);
  assert.match(lines[1]!, /^fd00:1:0:2::\/64 +2\.93 KiB/);
  assert.match(lines[2]!, /^198\.18\.1\.11 +1000 B/);
  assert.match(lines[4]!, /^unknown/);
});
