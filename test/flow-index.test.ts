import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowIndex } from '../src/account/flow-index.js';
import { decodePacket } from '../src/decode/decode-packet.js';
import { DecodedPacket } from '../src/decode/decoded-packet.js';
import { LinkType } from '../src/capture/packet-batch.js';
import { ipv4, ipv6, tcp, udp } from './support/packet-builder.js';

function decoded(bytes: Buffer): DecodedPacket {
  const out = new DecodedPacket();
  assert.ok(decodePacket(bytes, 0, bytes.length, LinkType.RAW, out));
  return out;
}

test('both directions of a conversation find the same id; fromA tells them apart', () => {
  const index = new FlowIndex();
  const pairs = [
    [ipv4('198.18.0.1', '198.18.0.2', 6, tcp(40000, 443)), ipv4('198.18.0.2', '198.18.0.1', 6, tcp(443, 40000))],
    [ipv6('fd00::1', 'fd00::2', 17, udp(5000, 53)), ipv6('fd00::2', 'fd00::1', 17, udp(53, 5000))],
    // Same address both ways (loopback): the ports order the endpoints.
    [ipv4('198.18.0.1', '198.18.0.1', 17, udp(9000, 8000)), ipv4('198.18.0.1', '198.18.0.1', 17, udp(8000, 9000))],
    // IPv6 addresses equal in their first words, different in the last.
    [ipv6('fd00::1:2', 'fd00::1:1', 6, tcp(1, 2)), ipv6('fd00::1:1', 'fd00::1:2', 6, tcp(2, 1))],
  ];
  for (const [id, [forward, backward]] of pairs.entries()) {
    assert.equal(index.lookup(decoded(forward!)), -1);
    const forwardFromA = index.fromA;
    index.insert(id);
    assert.equal(index.lookup(decoded(forward!)), id);
    assert.equal(index.fromA, forwardFromA);
    assert.equal(index.lookup(decoded(backward!)), id);
    assert.equal(index.fromA, !forwardFromA);
  }
  // TCP and UDP between the same endpoints are different flows.
  assert.equal(index.lookup(decoded(ipv4('198.18.0.1', '198.18.0.2', 17, udp(40000, 443)))), -1);
  assert.equal(index.size, pairs.length);
});

test('ids survive growth of the table, and retain() drops exactly the ids it is told to', () => {
  const index = new FlowIndex();
  const packet = (i: number) => decoded(ipv4('198.18.0.1', `198.19.${i >> 8}.${i & 0xff}`, 17, udp(10000 + (i % 50000), 53)));
  const n = 5000; // several doublings past the initial 1024 slots
  for (let i = 0; i < n; i++) {
    assert.equal(index.lookup(packet(i)), -1);
    index.insert(i);
  }
  for (let i = 0; i < n; i++) assert.equal(index.lookup(packet(i)), i);
  assert.deepEqual([...index.ids()].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  index.retain((id) => id % 3 === 0);
  assert.equal(index.size, Math.ceil(n / 3));
  for (let i = 0; i < n; i++) assert.equal(index.lookup(packet(i)), i % 3 === 0 ? i : -1);
});
