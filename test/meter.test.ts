import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Meter } from '../src/account/meter.js';
import type { Attribution } from '../src/account/attribution.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { LinkType, PacketBatchBuilder, type PacketBatch } from '../src/capture/packet-batch.js';
import { buildUsageReport, type UsageReport } from '../src/present/usage-report.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openCaptureFile } from '../src/capture/open-capture-file.js';
import { decodePacket } from '../src/decode/decode-packet.js';
import { DecodedPacket } from '../src/decode/decoded-packet.js';
import { ipv4, ipv6, tcp, udp } from './support/packet-builder.js';
import { REPO_ROOT } from './support/run-cli.js';

interface Sent {
  bytes: Buffer;
  wire?: number;
  ts?: number;
}

function batch(packets: Sent[]): PacketBatch {
  const builder = new PacketBatchBuilder(packets.length);
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [i, p] of packets.entries()) {
    builder.push(offset, p.bytes.length, p.wire ?? p.bytes.length + 100, p.ts ?? 1000 + i, 0);
    parts.push(p.bytes);
    offset += p.bytes.length;
  }
  return builder.take(Buffer.concat(parts), [{ name: 'test0', linkType: LinkType.RAW }]);
}

const browser: ProcessInfo = { pid: 100, name: 'browser', cmdline: 'browser', user: 'alice', uid: 1000 };
const server: ProcessInfo = { pid: 200, name: 'server', cmdline: 'server', user: 'root', uid: 0 };

/** 198.18.0.1 and fd00::1 are ours; the browser owns port 40000 and the server port 8080. */
const attribution: Attribution = {
  isLocal: (a) => a === '198.18.0.1' || a === 'fd00::1',
  owner: (_protocol, _local, localPort) => (localPort === 40000 ? browser : localPort === 8080 ? server : undefined),
};

function report(meter: Meter): UsageReport {
  return buildUsageReport(meter, { kind: 'pcap', interfaces: ['test0'] }, 1);
}

function assertInvariants(r: UsageReport): void {
  for (const d of ['sent', 'received'] as const) {
    const bytes = r.processes.reduce((s, p) => s + p[`${d}Bytes`], 0) + r.unknown[`${d}Bytes`] + r.other[`${d}Bytes`];
    assert.equal(bytes, r.totals[`${d}Bytes`], d);
  }
}

test('a local socket counts what leaves it as sent and what reaches it as received', () => {
  const meter = new Meter(attribution);
  meter.ingest(batch([
    { bytes: ipv4('198.18.0.1', '198.18.5.5', 6, tcp(40000, 443, 0x02)), wire: 60 },
    { bytes: ipv4('198.18.5.5', '198.18.0.1', 6, tcp(443, 40000, 0x12)), wire: 60 },
    { bytes: ipv4('198.18.5.5', '198.18.0.1', 6, tcp(443, 40000, 0x10)), wire: 1500 },
  ]));
  const r = report(meter);
  assert.deepEqual(r.processes.map((p) => [p.pid, p.sentBytes, p.receivedBytes, p.sentPackets, p.receivedPackets]), [[100, 60, 1560, 1, 2]]);
  assert.equal(r.connections.length, 1);
  assert.deepEqual([r.totals.packets, r.totals.bytes, r.totals.sentBytes, r.totals.receivedBytes], [3, 1620, 60, 1560]);
  assertInvariants(r);
});

test('between two local sockets a packet counts for both, once in the totals', () => {
  const meter = new Meter(attribution);
  meter.ingest(batch([
    { bytes: ipv6('fd00::1', 'fd00::1', 6, tcp(40000, 8080)), wire: 100 },
    { bytes: ipv6('fd00::1', 'fd00::1', 6, tcp(8080, 40000)), wire: 300 },
  ]));
  const r = report(meter);
  const byPid = Object.fromEntries(r.processes.map((p) => [p.pid, [p.sentBytes, p.receivedBytes]]));
  assert.deepEqual(byPid, { 100: [100, 300], 200: [300, 100] });
  assert.deepEqual([r.totals.packets, r.totals.bytes, r.totals.sentBytes, r.totals.receivedBytes], [2, 400, 400, 400]);
  assert.equal(r.connections.length, 2);
  assertInvariants(r);
});

test('when neither end is local, the initiator is the local end: the SYN sender, or the first sender', () => {
  const meter = new Meter({ isLocal: () => false, owner: () => undefined });
  meter.ingest(batch([
    // SYN-ACK seen first: its destination initiated.
    { bytes: ipv4('198.19.0.2', '198.19.0.1', 6, tcp(80, 50000, 0x12)), wire: 60 },
    { bytes: ipv4('198.19.0.1', '198.19.0.2', 6, tcp(50000, 80, 0x10)), wire: 1000 },
    { bytes: ipv4('198.19.0.3', '198.19.0.4', 17, udp(5000, 53)), wire: 80 },
    { bytes: ipv4('198.19.0.4', '198.19.0.3', 17, udp(53, 5000)), wire: 200 },
  ]));
  const r = report(meter);
  const conn = (port: number) => r.connections.find((c) => c.localPort === port)!;
  assert.deepEqual([conn(50000).localAddress, conn(50000).sentBytes, conn(50000).receivedBytes], ['198.19.0.1', 1000, 60]);
  assert.deepEqual([conn(5000).localAddress, conn(5000).sentBytes, conn(5000).receivedBytes], ['198.19.0.3', 80, 200]);
  assert.equal(r.connections.length, 2);
  assert.deepEqual([r.unknown.bytes, r.totals.bytes], [1340, 1340]);
  assertInvariants(r);
});

test('other packets: by IP locality when there is IP, received otherwise, each counted once', () => {
  const meter = new Meter(attribution);
  meter.ingest(batch([
    { bytes: ipv4('198.18.0.1', '198.18.5.5', 1, Buffer.alloc(8)), wire: 98 }, // ICMP out
    { bytes: ipv4('198.18.0.1', '198.18.0.1', 1, Buffer.alloc(8)), wire: 98 }, // ICMP to self
    { bytes: Buffer.from([0x00, 0x01]), wire: 42 }, // not IP
    { bytes: ipv4('198.18.0.1', '198.18.5.5', 17, Buffer.alloc(100), { fragmentOffset: 1480 }), wire: 140 },
  ]));
  const r = report(meter);
  assert.deepEqual([r.other.packets, r.other.bytes], [4, 378]);
  assert.deepEqual([r.other.sentBytes, r.other.receivedBytes], [98 + 98 + 140, 98 + 42]);
  assert.deepEqual(r.other.byReason, { otherProtocol: { packets: 2, bytes: 196 }, notIp: { packets: 1, bytes: 42 }, laterFragment: { packets: 1, bytes: 140 } });
  assertInvariants(r);
});

test('the flow table stays within its bound and retired records keep their bytes with their owners', () => {
  const meter = new Meter(attribution, { maxConversations: 100 });
  const packets: Sent[] = [];
  for (let i = 0; i < 1000; i++) {
    const local = i % 2 === 0 ? 40000 : 8080;
    const remote = `198.18.${1 + (i >> 8)}.${i & 0xff}`;
    packets.push({ bytes: ipv4('198.18.0.1', remote, 17, udp(local, 9000)), wire: 100, ts: i });
    packets.push({ bytes: ipv4(remote, '198.18.0.1', 17, udp(9000, 3000 + (i % 7))), wire: 50, ts: i });
  }
  for (let i = 0; i < packets.length; i += 64) meter.ingest(batch(packets.slice(i, i + 64)));
  const r = report(meter);
  assert.ok(r.connections.length <= 100 + 64 * 2, `${r.connections.length} connections held`);
  assert.ok(r.retiredConnections > 0);
  assert.deepEqual(r.processes.map((p) => [p.pid, p.sentBytes, p.sentPackets]).sort(), [[100, 50000, 500], [200, 50000, 500]]);
  assert.deepEqual([r.unknown.receivedBytes, r.unknown.receivedPackets], [50000, 1000]);
  assert.equal(r.totals.bytes, 150000);
  assertInvariants(r);
  meter.retireIdle(Number.POSITIVE_INFINITY);
  const after = report(meter);
  assert.equal(after.connections.length, 0);
  assert.deepEqual(after.processes, r.processes);
  assert.deepEqual(after.unknown, r.unknown);
});

test('a socket whose owner appears later is credited with all its bytes', () => {
  let known = false;
  const late: Attribution = { isLocal: attribution.isLocal, owner: (_p, _l, port) => (known && port === 40000 ? browser : undefined) };
  const meter = new Meter(late);
  meter.ingest(batch([{ bytes: ipv4('198.18.0.1', '198.18.5.5', 6, tcp(40000, 443)), wire: 700 }]));
  assert.equal(report(meter).unknown.sentBytes, 700);
  known = true;
  assert.equal(meter.attributeUnknown(), 1);
  const r = report(meter);
  assert.deepEqual([r.processes[0]!.pid, r.processes[0]!.sentBytes, r.unknown.sentBytes], [100, 700, 0]);
});

test('a retired conversation keeps its bytes; the one that takes its place in the table starts from zero', () => {
  const meter = new Meter(attribution);
  meter.ingest(batch([
    { bytes: ipv4('198.18.0.1', '198.18.5.5', 17, udp(40000, 53)), wire: 300, ts: 10 },
    { bytes: ipv4('198.18.5.5', '198.18.0.1', 17, udp(53, 40000)), wire: 200, ts: 11 },
  ]));
  const [first] = [...meter.records()];
  meter.retireIdle(100);
  assert.equal([...meter.records()].length, 0);
  // The retired record holds its final counts (history reads them after retirement).
  assert.deepEqual([first!.sent.bytes, first!.sent.packets, first!.received.bytes, first!.received.packets], [300, 1, 200, 1]);
  // A new conversation (reusing the retired one's slot) and the old one seen again.
  meter.ingest(batch([
    { bytes: ipv4('198.18.5.6', '198.18.0.1', 17, udp(53, 8080)), wire: 70, ts: 200 },
    { bytes: ipv4('198.18.0.1', '198.18.5.5', 17, udp(40000, 53)), wire: 80, ts: 201 },
  ]));
  const records = [...meter.records()].map((r) => [r.localPort, r.remoteAddress, r.sent.bytes, r.sent.packets, r.received.bytes, r.received.packets]);
  assert.deepEqual(records.sort(), [[40000, '198.18.5.5', 80, 1, 0, 0], [8080, '198.18.5.6', 0, 0, 70, 1]].sort());
  assert.deepEqual([first!.sent.bytes, first!.received.bytes], [300, 200], 'a retired record no longer changes');
  const r = report(meter);
  assert.deepEqual(r.processes.map((p) => [p.pid, p.sentBytes, p.receivedBytes]).sort(), [[100, 380, 200], [200, 0, 70]]);
  assertInvariants(r);
});

test('records handed out are up to date after every batch, in both directions of a loopback conversation', () => {
  const meter = new Meter(attribution);
  const packet = (from: number, to: number, wire: number) => ({ bytes: ipv4('198.18.0.1', '198.18.0.1', 6, tcp(from, to)), wire });
  meter.ingest(batch([packet(40000, 8080, 100)]));
  const counts = () =>
    [...meter.records()].map((r) => [r.localPort, r.sent.bytes, r.received.bytes, r.sent.packets, r.received.packets]).sort(); // as text: 40000 first
  assert.deepEqual(counts(), [[40000, 100, 0, 1, 0], [8080, 0, 100, 0, 1]]);
  meter.ingest(batch([packet(8080, 40000, 30), packet(40000, 8080, 5)]));
  assert.deepEqual(counts(), [[40000, 105, 30, 2, 1], [8080, 30, 105, 1, 2]]);
  assert.deepEqual([meter.totals.sent.bytes, meter.totals.received.bytes, meter.captured.bytes, meter.captured.packets], [135, 135, 135, 3]);
});

test('when an owner ends, a UDP port that passes to a new process starts a record of its own from the end on; TCP stays', () => {
  const old: ProcessInfo = { pid: 300, name: 'svc', cmdline: 'svc --old', user: 'root', uid: 0, startTime: 1 };
  const fresh: ProcessInfo = { pid: 301, name: 'svc', cmdline: 'svc --new', user: 'root', uid: 0, startTime: 2 };
  let holder: ProcessInfo | undefined = old;
  const meter = new Meter({ isLocal: (a) => a === '198.18.0.1', owner: () => holder });
  // Requests from port 40123 and their answers, 100 bytes each, captured from second `from` on.
  const exchange = (n: number, from: number) =>
    batch(Array.from({ length: n }, (_, i) => ({
      bytes: i % 2 ? ipv4('198.18.5.5', '198.18.0.1', 17, udp(53, 40123, 10)) : ipv4('198.18.0.1', '198.18.5.5', 17, udp(40123, 53, 10)),
      wire: 100,
      ts: from + i,
    })));
  const tcpPacket = (ts: number) => batch([{ bytes: ipv4('198.18.0.1', '198.18.5.5', 6, tcp(40124, 443, 0x10)), wire: 1000, ts }]);
  meter.ingest(exchange(4, 1000));
  meter.ingest(tcpPacket(1004));
  meter.endOwners([{ pid: 999, at: 1050 }]); // someone else's end changes nothing
  meter.endOwners([{ pid: 300, at: 1050 }]);
  assert.equal(meter.retiredConnections, 0, 'nothing retires before a packet from after the end');
  // The capture runs behind: packets from before the end, handed over after the kernel told
  // of it and after /proc forgot the process, are still the ended process's own.
  holder = undefined;
  meter.ingest(exchange(2, 1040));
  assert.equal(meter.retiredConnections, 0);
  holder = fresh; // the restarted service binds the same port
  meter.ingest(exchange(6, 1060));
  assert.equal(meter.retiredConnections, 1, 'the UDP record retired at its first packet from after the end; the TCP one stays');
  meter.ingest(tcpPacket(1070)); // a trailing TCP segment of the ended process
  const r = report(meter);
  assert.deepEqual(r.processes.map((p) => [p.pid, p.sentBytes, p.receivedBytes]).sort(), [[300, 300 + 2000, 300], [301, 300, 300]]);
  assertInvariants(r);
});

/**
 * What the native capture's coalescing does (native/src/live_capture.c), done here with the
 * TypeScript decoder: in each batch, the packets of one flow direction become one entry —
 * the first packet's bytes, the wire lengths summed, the packet count, first and last time.
 */
function coalesce(source: PacketBatch): PacketBatch {
  const entryOf = new Map<string, number>();
  const offset: number[] = [];
  const capturedLength: number[] = [];
  const wireLength: number[] = [];
  const timestamp: number[] = [];
  const lastTimestamp: number[] = [];
  const packets: number[] = [];
  const interfaceIndex: number[] = [];
  const out = new DecodedPacket();
  for (let i = 0; i < source.count; i++) {
    const start = source.offset[i]!;
    const iface = source.interfaceIndex[i]!;
    let key: string | undefined;
    if (decodePacket(source.data, start, source.capturedLength[i]!, source.interfaces[iface]!.linkType, out)) {
      const size = out.ipVersion === 4 ? 4 : 16;
      const address = (at: number) => source.data.subarray(at, at + size).toString('hex');
      key = `${iface}|${out.kind}|${address(out.sourceAt)}|${address(out.destinationAt)}|${out.sourcePort}|${out.destinationPort}`;
    }
    const e = key === undefined ? undefined : entryOf.get(key);
    if (e !== undefined) {
      wireLength[e]! += source.wireLength[i]!;
      packets[e]!++;
      lastTimestamp[e] = source.timestamp[i]!;
      continue;
    }
    if (key !== undefined) entryOf.set(key, offset.length);
    offset.push(start);
    capturedLength.push(source.capturedLength[i]!);
    wireLength.push(source.wireLength[i]!);
    timestamp.push(source.timestamp[i]!);
    lastTimestamp.push(source.timestamp[i]!);
    packets.push(1);
    interfaceIndex.push(iface);
  }
  return {
    count: offset.length,
    data: source.data,
    offset: Uint32Array.from(offset),
    capturedLength: Uint32Array.from(capturedLength),
    wireLength: Uint32Array.from(wireLength),
    timestamp: Float64Array.from(timestamp),
    packets: Uint32Array.from(packets),
    lastTimestamp: Float64Array.from(lastTimestamp),
    interfaceIndex: Uint16Array.from(interfaceIndex),
    interfaces: source.interfaces,
  };
}

test('coalesced entries (several packets of one flow direction) are accounted as those packets one by one', async () => {
  // Every fixture capture, with some owners known and some not, loopback (both ends local)
  // and other packets (fragments) among them.
  const owners: Attribution = {
    isLocal: (a) => a.startsWith('127.') || a === '::1' || a.startsWith('198.18.0.'),
    owner: (_protocol, _local, localPort) => (localPort % 3 === 0 ? browser : localPort % 3 === 1 ? server : undefined),
  };
  const dir = join(REPO_ROOT, 'fixtures/pcap');
  let allEntries = 0;
  let allPackets = 0;
  for (const file of readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f))) {
    const perPacket = new Meter(owners);
    const perEntry = new Meter(owners);
    let entries = 0;
    let packets = 0;
    const source = await openCaptureFile(join(dir, file));
    for await (const b of source.batches()) {
      perPacket.ingest(b);
      const coalesced = coalesce(b);
      perEntry.ingest(coalesced);
      entries += coalesced.count;
      packets += b.count;
    }
    allEntries += entries;
    allPackets += packets;
    const expected = buildUsageReport(perPacket, { kind: 'pcap', interfaces: ['x'] }, 1);
    const actual = buildUsageReport(perEntry, { kind: 'pcap', interfaces: ['x'] }, 1);
    assert.deepEqual(actual, expected, file);
    assert.equal(actual.totals.packets, packets, `${file}: every packet counted`);
    assert.deepEqual([perEntry.firstTimestamp, perEntry.lastTimestamp], [perPacket.firstTimestamp, perPacket.lastTimestamp], `${file}: first and last packet times`);
    assertInvariants(actual);
  }
  // Or the test compared the same batches twice.
  assert.ok(allEntries < allPackets * 0.7, `${allEntries} entries for ${allPackets} packets`);
});
