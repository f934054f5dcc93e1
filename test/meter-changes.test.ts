// Meter.takeChanges, what MeterTotals keeps its totals by: only the records whose
// conversation counted a packet since the last call, and the retired ones it had handed
// out — checked by hand, and against totals summed from scratch over seeded histories of
// packets, idle retirement, the flow table's bound and owners ending.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRecord, Meter } from '../src/account/meter.js';
import type { Attribution } from '../src/account/attribution.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { LinkType, PacketBatchBuilder, type PacketBatch } from '../src/capture/packet-batch.js';
import { MeterTotals } from '../src/history/meter-totals.js';
import { addCounts, usageKeyOf, usageKeyText, zeroCounts, type UsageCounts } from '../src/history/usage-key.js';
import { ipv4, udp } from './support/packet-builder.js';
import { seededRandom as random } from './support/seeded-random.js';

const apps: ProcessInfo[] = Array.from({ length: 4 }, (_, i) => ({ pid: 100 + i, name: `app${i}`, cmdline: `app${i}`, user: 'root', uid: 0, exe: `/usr/bin/app${i}` }));
/** 198.18.0.1 is ours; local port 40000+i belongs to apps[i % 4], except every fifth port (unknown). */
const attribution: Attribution = {
  isLocal: (a) => a === '198.18.0.1',
  owner: (_protocol, _local, port) => (port % 5 === 0 ? undefined : apps[port % 4]),
};

/** One UDP packet per flow index (local port 40000+flow), out or in, at time `ts`. */
function batch(packets: Array<{ flow: number; out: boolean; ts: number; wire?: number }>): PacketBatch {
  const builder = new PacketBatchBuilder(packets.length);
  const parts: Buffer[] = [];
  let offset = 0;
  for (const p of packets) {
    const bytes = p.out ? ipv4('198.18.0.1', '198.19.0.1', 17, udp(40000 + p.flow, 443, 10)) : ipv4('198.19.0.1', '198.18.0.1', 17, udp(443, 40000 + p.flow, 10));
    builder.push(offset, bytes.length, p.wire ?? 100, p.ts, 0);
    parts.push(bytes);
    offset += bytes.length;
  }
  return builder.take(Buffer.concat(parts), [{ name: 'lan0', linkType: LinkType.RAW }]);
}

function take(meter: Meter): { changed: ConnectionRecord[]; retired: ConnectionRecord[] } {
  const changed: ConnectionRecord[] = [];
  const retired: ConnectionRecord[] = [];
  meter.takeChanges((r) => changed.push(r), (r) => retired.push(r));
  return { changed, retired };
}

test('takeChanges hands out the records that counted a packet since the last call, up to date, once', () => {
  const meter = new Meter(attribution);
  meter.ingest(batch([{ flow: 1, out: true, ts: 10 }, { flow: 2, out: true, ts: 10 }, { flow: 2, out: false, ts: 10 }]));
  const first = take(meter);
  assert.deepEqual(first.changed.map((r) => [r.localPort, r.sent.bytes, r.received.bytes]), [[40001, 100, 0], [40002, 100, 100]]);
  assert.deepEqual(take(meter), { changed: [], retired: [] }, 'nothing moved');
  meter.ingest(batch([{ flow: 2, out: true, ts: 11 }, { flow: 2, out: true, ts: 11 }]));
  assert.deepEqual(take(meter).changed.map((r) => [r.localPort, r.sent.bytes]), [[40002, 300]]);
});

test('retired records are handed out once if they were handed out before; others only reach the retired map', () => {
  const meter = new Meter(attribution);
  meter.ingest(batch([{ flow: 1, out: true, ts: 10 }]));
  const [seen] = take(meter).changed;
  meter.ingest(batch([{ flow: 1, out: true, ts: 11 }, { flow: 3, out: true, ts: 11 }]));
  meter.retireIdle(20);
  const after = take(meter);
  assert.deepEqual(after.changed, [], 'retired conversations are not changed records');
  assert.deepEqual(after.retired, [seen]);
  assert.equal(seen!.sent.bytes, 200, 'with its final counts');
  assert.equal(meter.retiredConnections, 2);
  // A new conversation on the freed id is handed out as new.
  meter.ingest(batch([{ flow: 7, out: true, ts: 30 }]));
  assert.deepEqual(take(meter).changed.map((r) => [r.localPort, r.sent.bytes]), [[40007, 100]]);
});

for (let seed = 1; seed <= 20; seed++) {
  test(`incremental totals equal totals summed from scratch (seeded history ${seed})`, () => {
    const next = random(seed);
    const meter = new Meter(attribution, { maxConversations: 40 });
    const totals = new MeterTotals(meter, { userName: () => 'root' });
    let ts = 1000;
    for (let step = 0; step < 200; step++) {
      const packets = Array.from({ length: 1 + Math.floor(next() * 30) }, () => ({ flow: Math.floor(next() * 60), out: next() < 0.5, ts, wire: 60 + Math.floor(next() * 1400) }));
      meter.ingest(batch(packets));
      ts += next() * 5;
      const r = next();
      if (r < 0.1) meter.retireIdle(ts - 10);
      else if (r < 0.15) meter.endOwners([{ pid: apps[Math.floor(next() * 4)]!.pid, at: ts }]);
      if (next() < 0.3) {
        const expected = new Map<string, UsageCounts>();
        const add = (owner: ProcessInfo | undefined, iface: string, counts: UsageCounts) => {
          const key = usageKeyText(usageKeyOf(owner, iface));
          const sum = expected.get(key) ?? zeroCounts();
          addCounts(sum, counts);
          expected.set(key, sum);
        };
        for (const rec of meter.records()) add(rec.owner, rec.interfaceName, { sentBytes: rec.sent.bytes, receivedBytes: rec.received.bytes, sentPackets: rec.sent.packets, receivedPackets: rec.received.packets });
        for (const e of meter.retired.values()) add(e.process, e.interfaceName, { sentBytes: e.traffic.sent.bytes, receivedBytes: e.traffic.received.bytes, sentPackets: e.traffic.sent.packets, receivedPackets: e.traffic.received.packets });
        const got = new Map([...totals.totals()].map((t) => [usageKeyText(t), { sentBytes: t.sentBytes, receivedBytes: t.receivedBytes, sentPackets: t.sentPackets, receivedPackets: t.receivedPackets }]));
        for (const [key, counts] of got) if (!expected.has(key)) assert.deepEqual(counts, zeroCounts(), key);
        for (const [key, counts] of expected) assert.deepEqual(got.get(key), counts, `${key} at step ${step}`);
      }
    }
    assert.ok(meter.retiredConnections > 0, 'the history retired records');
  });
}
