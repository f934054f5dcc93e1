import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket } from '../src/decode/decode-packet.js';
import { DecodedPacket, OtherReason, PacketKind } from '../src/decode/decoded-packet.js';
import { formatIpv4, formatIpv6 } from '../src/decode/address.js';
import { LinkType } from '../src/capture/packet-batch.js';
import { bsdNull, ethernet, fragmentHeader, ipv4, ipv6, linuxSll, linuxSll2, pppoeSession, tcp, udp, zeroTotalLength } from './support/packet-builder.js';

function decode(bytes: Buffer, linkType: number) {
  const out = new DecodedPacket();
  const ok = decodePacket(bytes, 0, bytes.length, linkType, out);
  const format = out.ipVersion === 4 ? formatIpv4 : formatIpv6;
  return {
    ok,
    kind: out.kind,
    reason: out.otherReason,
    src: out.ipVersion ? `${format(bytes, out.sourceAt)}:${out.sourcePort}` : '',
    dst: out.ipVersion ? `${format(bytes, out.destinationAt)}:${out.destinationPort}` : '',
  };
}

const v4tcp = ipv4('198.18.0.1', '198.18.0.2', 6, tcp(40000, 443));
const v6udp = ipv6('fd00::1', 'fd00::2', 17, udp(5353, 53, 10));

test('Ethernet IPv4 TCP gives addresses and ports', () => {
  assert.deepEqual(decode(ethernet(0x0800, v4tcp), LinkType.ETHERNET), { ok: true, kind: PacketKind.TCP, reason: 0, src: '198.18.0.1:40000', dst: '198.18.0.2:443' });
});

test('802.1Q and 802.1ad tags are skipped, stacked too', () => {
  for (const tags of [[0x8100], [0x88a8, 0x8100], [0x9100, 0x8100]]) {
    const r = decode(ethernet(0x86dd, v6udp, tags), LinkType.ETHERNET);
    assert.deepEqual([r.ok, r.kind, r.src, r.dst], [true, PacketKind.UDP, 'fd00::1:5353', 'fd00::2:53']);
  }
});

test('Linux cooked SLL and SLL2, raw IP, IPv4/IPv6 link types, BSD NULL and LOOP', () => {
  const cases: Array<[Buffer, number]> = [
    [linuxSll(0x0800, v4tcp), LinkType.LINUX_SLL],
    [linuxSll2(0x0800, v4tcp), LinkType.LINUX_SLL2],
    [v4tcp, LinkType.RAW],
    [v4tcp, LinkType.RAW_DLT12],
    [v4tcp, LinkType.IPV4],
    [bsdNull(2, v4tcp), LinkType.NULL],
    [bsdNull(2, v4tcp, false), LinkType.NULL],
    [bsdNull(2, v4tcp, false), LinkType.LOOP],
  ];
  for (const [bytes, link] of cases) assert.equal(decode(bytes, link).src, '198.18.0.1:40000', `link type ${link}`);
  for (const [bytes, link] of [[v6udp, LinkType.IPV6], [v6udp, LinkType.RAW], [bsdNull(30, v6udp), LinkType.NULL], [bsdNull(24, v6udp, false), LinkType.NULL]] as Array<[Buffer, number]>) {
    assert.equal(decode(bytes, link).dst, 'fd00::2:53', `link type ${link}`);
  }
});

test('PPPoE sessions carry IPv4 (PPP 0x0021) and IPv6 (0x0057), behind VLAN tags and in Linux cooked captures too', () => {
  const v6tcp = ipv6('fd00::1', 'fd00::2', 6, tcp(50000, 443));
  const cases: Array<[string, Buffer, number, string]> = [
    ['IPv4', ethernet(0x8864, pppoeSession(0x0021, v4tcp)), LinkType.ETHERNET, '198.18.0.2:443'],
    ['IPv6', ethernet(0x8864, pppoeSession(0x0057, v6udp)), LinkType.ETHERNET, 'fd00::2:53'],
    ['IPv6 TCP', ethernet(0x8864, pppoeSession(0x0057, v6tcp)), LinkType.ETHERNET, 'fd00::2:443'],
    ['802.1Q', ethernet(0x8864, pppoeSession(0x0021, v4tcp), [0x8100]), LinkType.ETHERNET, '198.18.0.2:443'],
    ['802.1ad', ethernet(0x8864, pppoeSession(0x0057, v6udp), [0x88a8, 0x8100]), LinkType.ETHERNET, 'fd00::2:53'],
    ['compressed protocol', ethernet(0x8864, pppoeSession(0x21, v4tcp, { compressed: true })), LinkType.ETHERNET, '198.18.0.2:443'],
    ['a code tshark ignores too', ethernet(0x8864, pppoeSession(0x0021, v4tcp, { code: 7 })), LinkType.ETHERNET, '198.18.0.2:443'],
    ['SLL', linuxSll(0x8864, pppoeSession(0x0021, v4tcp)), LinkType.LINUX_SLL, '198.18.0.2:443'],
    ['SLL2', linuxSll2(0x8864, pppoeSession(0x0057, v6udp)), LinkType.LINUX_SLL2, 'fd00::2:53'],
  ];
  for (const [what, bytes, link, dst] of cases) {
    const r = decode(bytes, link);
    assert.deepEqual([r.ok, r.dst], [true, dst], what);
  }
  // Discovery (PADI ... PADT) and PPP's own control protocols carry no IP.
  assert.equal(decode(ethernet(0x8863, pppoeSession(0x0021, v4tcp)), LinkType.ETHERNET).reason, OtherReason.NOT_IP);
  assert.equal(decode(ethernet(0x8864, pppoeSession(0xc021, Buffer.alloc(20))), LinkType.ETHERNET).reason, OtherReason.NOT_IP);
  const session = ethernet(0x8864, pppoeSession(0x0021, v4tcp));
  for (let n = 14; n < 14 + 8 + 40; n++) assert.equal(decode(session.subarray(0, n), LinkType.ETHERNET).reason, OtherReason.MALFORMED, `cut at ${n}`);
});

test('BSD loopback: the address family in either byte order or half, both link types, as tshark reads it', () => {
  const headers: Array<[number[], Buffer, string]> = [];
  for (const family of [2, 24, 28, 30]) {
    const packet = family === 2 ? v4tcp : v6udp;
    const dst = family === 2 ? '198.18.0.2:443' : 'fd00::2:53';
    for (const bytes of [[family, 0, 0, 0], [0, 0, 0, family]]) headers.push([bytes, packet, dst]);
  }
  // A 16-bit write into either half: tshark undoes it for values below 6 only, so for AF_INET.
  headers.push([[0, 2, 0, 0], v4tcp, '198.18.0.2:443'], [[0, 0, 2, 0], v4tcp, '198.18.0.2:443']);
  headers.push([[0, 0, 8, 0], v4tcp, '198.18.0.2:443'], [[0, 8, 0, 0], v4tcp, '198.18.0.2:443'], [[0, 0, 0x86, 0xdd], v6udp, 'fd00::2:53']); // ethertypes
  headers.push([[0xff, 0x03, 0x00, 0x21], v4tcp, '198.18.0.2:443'], [[0xff, 0x03, 0x00, 0x57], v6udp, 'fd00::2:53']); // PPP in HDLC framing
  for (const link of [LinkType.NULL, LinkType.LOOP]) {
    for (const [header, packet, dst] of headers) {
      const r = decode(Buffer.concat([Buffer.from(header), packet]), link);
      assert.deepEqual([r.ok, r.dst], [true, dst], `link type ${link}, header ${Buffer.from(header).toString('hex')}`);
    }
    // Linux's AF_INET6 (10) is no BSD family: tshark shows such packets as data, and so do we.
    for (const header of [[10, 0, 0, 0], [0, 0, 0, 10], [7, 0, 0, 0], [0, 30, 0, 0], [0, 0, 30, 0], [0xff, 0x03, 0xc0, 0x21]]) {
      assert.equal(decode(Buffer.concat([Buffer.from(header), v6udp]), link).reason, OtherReason.NOT_IP, Buffer.from(header).toString('hex'));
    }
  }
});

test('IPv4 with total length 0 (captured below segmentation offload) ends where the capture does', () => {
  const big = ipv4('198.18.0.1', '198.18.0.2', 6, tcp(40000, 443, 0x10, 3000));
  for (const [bytes, link] of [[zeroTotalLength(big), LinkType.RAW], [ethernet(0x0800, zeroTotalLength(big)), LinkType.ETHERNET], [bsdNull(2, zeroTotalLength(v4udpShort()), false), LinkType.NULL]] as Array<[Buffer, number]>) {
    const r = decode(bytes, link);
    assert.equal(r.ok, true, `link type ${link}`);
    assert.equal(r.src.split(':')[0], '198.18.0.1');
  }
  // Cut at the snap length, still TCP: its header is there.
  assert.equal(decode(zeroTotalLength(big).subarray(0, 60), LinkType.RAW).ok, true);
  // The header alone, and a header cut short, are still damaged.
  assert.equal(decode(zeroTotalLength(big).subarray(0, 30), LinkType.RAW).reason, OtherReason.MALFORMED);
  assert.equal(decode(zeroTotalLength(big).subarray(0, 12), LinkType.RAW).reason, OtherReason.MALFORMED);
});

function v4udpShort(): Buffer {
  return ipv4('198.18.0.1', '198.18.0.2', 17, udp(5353, 53, 2));
}

test('IPv6: several extension headers with more than one fragment header at offset 0', () => {
  const chains: Array<Array<[number, Buffer]>> = [
    [[44, fragmentHeader(0, false)], [44, fragmentHeader(0, false, 7)]],
    [[0, Buffer.alloc(6)], [44, fragmentHeader(0, true)], [60, Buffer.alloc(14)], [44, fragmentHeader(0, false)]],
    [[44, fragmentHeader(0, false)], [43, Buffer.alloc(6)], [60, Buffer.alloc(14)], [44, fragmentHeader(0, true)], [60, Buffer.alloc(6)]],
  ];
  for (const chain of chains) {
    assert.equal(decode(ipv6('fd00::1', 'fd00::2', 6, tcp(1234, 80), chain), LinkType.RAW).dst, 'fd00::2:80');
    assert.equal(decode(ipv6('fd00::1', 'fd00::2', 17, udp(1234, 53), chain), LinkType.RAW).dst, 'fd00::2:53');
  }
  // A fragment header further on that is not at offset 0: a later fragment.
  const later = ipv6('fd00::1', 'fd00::2', 6, tcp(1, 2), [[44, fragmentHeader(0, false)], [44, fragmentHeader(1448, true)]]);
  assert.equal(decode(later, LinkType.RAW).reason, OtherReason.LATER_FRAGMENT);
});

test('IPv4 options are skipped; Ethernet padding past the datagram is ignored', () => {
  const withOptions = ipv4('198.18.0.1', '198.18.0.2', 17, udp(1, 2), { options: 8 });
  assert.equal(decode(ethernet(0x0800, withOptions), LinkType.ETHERNET).dst, '198.18.0.2:2');
  const padded = Buffer.concat([ethernet(0x0800, ipv4('198.18.0.1', '198.18.0.2', 6, tcp(1, 2))), Buffer.alloc(6)]);
  assert.equal(decode(padded, LinkType.ETHERNET).ok, true);
});

test('first IPv4 fragment has ports; later fragments are other', () => {
  const first = ipv4('198.18.0.1', '198.18.0.2', 17, udp(7, 9, 100), { moreFragments: true });
  assert.equal(decode(first, LinkType.RAW).dst, '198.18.0.2:9');
  const later = ipv4('198.18.0.1', '198.18.0.2', 17, Buffer.alloc(100), { fragmentOffset: 1480 });
  assert.deepEqual([decode(later, LinkType.RAW).ok, decode(later, LinkType.RAW).reason], [false, OtherReason.LATER_FRAGMENT]);
});

test('IPv6 extension headers: hop-by-hop, routing, destination options, fragment', () => {
  const pkt = ipv6('fd00::1', 'fd00::2', 6, tcp(1234, 80), [
    [0, Buffer.alloc(6)],
    [43, Buffer.alloc(14)],
    [60, Buffer.alloc(6)],
    [44, Buffer.from([0, 0, 0, 0, 0, 1])], // offset 0, more fragments
  ]);
  assert.deepEqual(decode(pkt, LinkType.RAW), { ok: true, kind: PacketKind.TCP, reason: 0, src: 'fd00::1:1234', dst: 'fd00::2:80' });
  const later = ipv6('fd00::1', 'fd00::2', 6, Buffer.alloc(40), [[44, Buffer.from([0, 0x08, 0, 0, 0, 1])]]);
  assert.equal(decode(later, LinkType.RAW).reason, OtherReason.LATER_FRAGMENT);
});

test('ICMP, ICMPv6, ARP and unknown link types go to other with their reason', () => {
  assert.equal(decode(ipv4('198.18.0.1', '198.18.0.2', 1, Buffer.alloc(8)), LinkType.RAW).reason, OtherReason.OTHER_PROTOCOL);
  assert.equal(decode(ipv6('fd00::1', 'fd00::2', 58, Buffer.alloc(8)), LinkType.RAW).reason, OtherReason.OTHER_PROTOCOL);
  assert.equal(decode(ethernet(0x0806, Buffer.alloc(28)), LinkType.ETHERNET).reason, OtherReason.NOT_IP);
  assert.equal(decode(v4tcp, 9999).reason, OtherReason.UNKNOWN_LINK_TYPE);
});

test('every truncation of a packet decodes without throwing, as other until the ports are there', () => {
  const full = ethernet(0x86dd, ipv6('fd00::1', 'fd00::2', 17, udp(1, 2, 4), [[0, Buffer.alloc(6)]]), [0x8100]);
  for (let n = 0; n <= full.length; n++) {
    const r = decode(full.subarray(0, n), LinkType.ETHERNET);
    if (!r.ok) assert.notEqual(r.reason, OtherReason.NONE, `length ${n}`);
  }
  assert.equal(decode(full, LinkType.ETHERNET).ok, true);
});

test('damaged headers are malformed, not thrown', () => {
  const badIhl = Buffer.from(v4tcp);
  badIhl[0] = 0x43; // header length 12 bytes
  assert.equal(decode(badIhl, LinkType.RAW).reason, OtherReason.MALFORMED);
  const badTcpOffset = Buffer.from(v4tcp);
  badTcpOffset[20 + 12] = 0x20;
  assert.equal(decode(badTcpOffset, LinkType.RAW).reason, OtherReason.MALFORMED);
  const random = Buffer.alloc(64);
  for (let seed = 1; seed < 2000; seed++) {
    for (let i = 0; i < random.length; i++) random[i] = (seed * 7919 + i * 104729) % 251;
    for (const link of Object.values(LinkType)) decode(random, link);
  }
});
