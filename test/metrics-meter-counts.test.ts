// What the exporter reads of the Meter without walking it: connectionCount, kept as records
// come and go, always equals the records the flow table holds (records() counted), through
// retirement by idleness, by the table's bound and by a UDP owner's end; otherByInterface
// adds up to `other`, per interface as the packets came.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Meter } from '../src/account/meter.js';
import type { Attribution } from '../src/account/attribution.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { LinkType, PacketBatchBuilder } from '../src/capture/packet-batch.js';
import { ipv4, tcp, udp } from './support/packet-builder.js';
import { seededRandom as random } from './support/seeded-random.js';

const owners = new Map<number, ProcessInfo>();
const attribution: Attribution = {
  isLocal: (a) => a === '198.18.0.1' || a === '198.18.0.2',
  owner: (_protocol, _local, localPort) => {
    if (localPort % 3 === 0) return undefined;
    let p = owners.get(localPort % 7);
    if (!p) owners.set(localPort % 7, (p = { pid: 1000 + (localPort % 7), name: `app${localPort % 7}`, cmdline: '', user: 'root', uid: 0 }));
    return p;
  },
};


test('connectionCount equals the records in the flow table, and otherByInterface adds up to other', () => {
  const rand = random(7);
  const meter = new Meter(attribution, { maxConversations: 40 });
  let ts = 1000;
  for (let round = 0; round < 200; round++) {
    const builder = new PacketBatchBuilder(20);
    const parts: Buffer[] = [];
    let offset = 0;
    for (let i = 0; i < 20; i++) {
      ts += rand() * 3;
      const kind = rand();
      const local = rand() < 0.5 ? '198.18.0.1' : '198.18.0.2';
      const remote = rand() < 0.3 ? (local === '198.18.0.1' ? '198.18.0.2' : '198.18.0.1') : `198.18.9.${1 + Math.floor(rand() * 20)}`;
      const port = 40000 + Math.floor(rand() * 60);
      const bytes = kind < 0.15
        ? ipv4(local, remote, 1, Buffer.alloc(8)) // ICMP: other
        : kind < 0.6
          ? ipv4(local, remote, 6, tcp(port, 443))
          : ipv4('198.18.9.1', '198.18.0.1', 17, udp(53, 40000 + (port % 4))); // few UDP flows: they come back after their owner ended
      builder.push(offset, bytes.length, bytes.length + 14, ts, rand() < 0.5 ? 0 : 1);
      parts.push(bytes);
      offset += bytes.length;
    }
    meter.ingest(builder.take(Buffer.concat(parts), [{ name: 'eth0', linkType: LinkType.RAW }, { name: 'wlan0', linkType: LinkType.RAW }]));
    if (round % 10 === 9) meter.retireIdle(ts - 20);
    if (round % 25 === 24) meter.endOwners([{ pid: 1001, at: ts - 1 }, { pid: 1002, at: ts - 1 }]);
    assert.equal(meter.connectionCount, [...meter.records()].length, `round ${round}`);
    for (const d of ['sent', 'received'] as const) {
      let bytes = 0;
      let packets = 0;
      for (const t of meter.otherByInterface.values()) {
        bytes += t[d].bytes;
        packets += t[d].packets;
      }
      assert.equal(bytes, meter.other[d].bytes, `round ${round} other ${d} bytes`);
      assert.equal(packets, meter.other[d].packets, `round ${round} other ${d} packets`);
    }
  }
  assert.ok(meter.retiredConnections > 50, `retirement happened (${meter.retiredConnections})`);
  assert.deepEqual([...meter.otherByInterface.keys()].sort(), ['eth0', 'wlan0']);
  meter.retireIdle(ts + 1);
  assert.equal(meter.connectionCount, 0);
});
