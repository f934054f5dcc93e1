// The native capture coalesces a batch's packets by the flow key native/src/flow_key.c
// reads, and the meter accounts each coalesced entry by its first packet. That is exact
// only if every packet flow_key.c keys is one the TypeScript decoder decodes as TCP or UDP
// with the same protocol, addresses and ports; and every TCP/UDP packet can be coalesced
// only if flow_key.c keys all of them. Checked here packet by packet, both ways: on every
// fixture capture, on hand-built packets of each link type and shape the decoder knows,
// and on thousands of damaged copies of them (bytes overwritten, cut short).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LinkType } from '../src/capture/packet-batch.js';
import { openCaptureFile } from '../src/capture/open-capture-file.js';
import { decodePacket } from '../src/decode/decode-packet.js';
import { DecodedPacket } from '../src/decode/decoded-packet.js';
import { loadNativeAddon } from '../src/native-addon.js';
import { bsdNull, ethernet, fragmentHeader, ipv4, ipv6, linuxSll, linuxSll2, pppoeSession, tcp, udp, zeroTotalLength } from './support/packet-builder.js';
import { REPO_ROOT } from './support/run-cli.js';
import { seededRandom as random } from './support/seeded-random.js';

const loaded = loadNativeAddon();
const flowKey = 'addon' in loaded ? (loaded.addon.flowKey as ((bytes: Uint8Array, linkType: number) => Buffer | null) | undefined) : undefined;
const NOT_BUILT = 'error' in loaded ? `the native addon is not built (${loaded.error.message.split('\n')[0]})` : 'the addon has no flowKey (npm rebuild)';
const skip = flowKey === undefined ? NOT_BUILT : false;

interface Sample {
  bytes: Buffer;
  linkType: number;
  what: string;
}

/** The decoder's view of a packet in flow_key.c's layout, or null when it is not TCP/UDP. */
function decoderKey(bytes: Buffer, linkType: number): Buffer | null {
  const out = new DecodedPacket();
  if (!decodePacket(bytes, 0, bytes.length, linkType, out)) return null;
  const key = Buffer.alloc(40);
  key[0] = out.kind;
  key[1] = out.ipVersion;
  const addressLength = out.ipVersion === 4 ? 4 : 16;
  bytes.copy(key, 4, out.sourceAt, out.sourceAt + addressLength);
  bytes.copy(key, 20, out.destinationAt, out.destinationAt + addressLength);
  key.writeUInt16BE(out.sourcePort, 36);
  key.writeUInt16BE(out.destinationPort, 38);
  return key;
}

/** Checks one packet: keyed exactly when the decoder finds TCP/UDP, with its key. Returns whether it was keyed. */
function check(sample: Sample): boolean {
  const native = flowKey!(sample.bytes, sample.linkType);
  const decoded = decoderKey(sample.bytes, sample.linkType);
  if (native === null) {
    assert.equal(decoded, null, `${sample.what}: the decoder finds TCP/UDP in a packet flow_key.c does not key (${sample.bytes.toString('hex')})`);
    return false;
  }
  assert.ok(decoded !== null, `${sample.what}: flow_key.c keys a packet the decoder calls other (${sample.bytes.toString('hex')})`);
  assert.equal(native.toString('hex'), decoded.toString('hex'), `${sample.what}: keys differ (${sample.bytes.toString('hex')})`);
  return true;
}

const v4tcp = ipv4('198.18.0.1', '198.18.0.2', 6, tcp(40000, 443));
const v4udp = ipv4('198.18.0.3', '198.18.0.4', 17, udp(5353, 53, 12));
const v6tcp = ipv6('fd00::1', 'fd00::2', 6, tcp(443, 50000, 0x12, 20));
const v6udp = ipv6('fd00::1', 'fd00::2', 17, udp(5353, 53, 10));

/** Packets of every shape the decoder handles, on every link type, each with its expected keying. */
function handBuilt(): Array<Sample & { keyed: boolean }> {
  const samples: Array<Sample & { keyed: boolean }> = [];
  const add = (bytes: Buffer, linkType: number, what: string, keyed: boolean) => samples.push({ bytes, linkType, what, keyed });
  for (const [name, packet] of [['IPv4 TCP', v4tcp], ['IPv4 UDP', v4udp], ['IPv6 TCP', v6tcp], ['IPv6 UDP', v6udp]] as const) {
    const ethertype = packet[0]! >> 4 === 4 ? 0x0800 : 0x86dd;
    add(ethernet(ethertype, packet), LinkType.ETHERNET, `Ethernet ${name}`, true);
    add(ethernet(ethertype, packet, [0x8100]), LinkType.ETHERNET, `802.1Q ${name}`, true);
    add(ethernet(ethertype, packet, [0x88a8, 0x8100]), LinkType.ETHERNET, `802.1ad ${name}`, true);
    add(linuxSll(ethertype, packet), LinkType.LINUX_SLL, `SLL ${name}`, true);
    add(linuxSll2(ethertype, packet), LinkType.LINUX_SLL2, `SLL2 ${name}`, true);
    for (const raw of [LinkType.RAW, LinkType.RAW_DLT12, LinkType.RAW_DLT14, LinkType.IPV4, LinkType.IPV6]) add(packet, raw, `raw (${raw}) ${name}`, true);
    const family = ethertype === 0x0800 ? 2 : 30;
    for (const link of [LinkType.NULL, LinkType.LOOP]) {
      add(bsdNull(family, packet), link, `BSD loopback (${link}) little-endian ${name}`, true);
      add(bsdNull(family, packet, false), link, `BSD loopback (${link}) big-endian ${name}`, true);
      add(Buffer.concat([Buffer.from([0, family, 0, 0]), packet]), link, `BSD loopback (${link}) 16-bit ${name}`, family === 2);
      add(bsdNull(ethertype, packet, false), link, `BSD loopback (${link}) ethertype ${name}`, true);
      add(Buffer.concat([Buffer.from([0xff, 0x03, 0, ethertype === 0x0800 ? 0x21 : 0x57]), packet]), link, `BSD loopback (${link}) PPP ${name}`, true);
    }
    add(bsdNull(10, packet), LinkType.NULL, `BSD NULL, Linux's AF_INET6 ${name}`, false);
    const ppp = ethertype === 0x0800 ? 0x0021 : 0x0057;
    add(ethernet(0x8864, pppoeSession(ppp, packet)), LinkType.ETHERNET, `PPPoE ${name}`, true);
    add(ethernet(0x8864, pppoeSession(ppp, packet), [0x8100]), LinkType.ETHERNET, `802.1Q PPPoE ${name}`, true);
    add(ethernet(0x8864, pppoeSession(ppp, packet), [0x88a8, 0x8100]), LinkType.ETHERNET, `802.1ad PPPoE ${name}`, true);
    add(ethernet(0x8864, pppoeSession(ppp, packet, { compressed: true })), LinkType.ETHERNET, `PPPoE compressed protocol ${name}`, true);
    add(linuxSll(0x8864, pppoeSession(ppp, packet)), LinkType.LINUX_SLL, `SLL PPPoE ${name}`, true);
    add(linuxSll2(0x8864, pppoeSession(ppp, packet)), LinkType.LINUX_SLL2, `SLL2 PPPoE ${name}`, true);
    add(ethernet(0x8863, pppoeSession(ppp, packet)), LinkType.ETHERNET, `PPPoE discovery ${name}`, false);
    // The ethertype says one version, the header another: the decoder goes by the header.
    add(ethernet(ethertype === 0x0800 ? 0x86dd : 0x0800, packet), LinkType.ETHERNET, `mislabelled ${name}`, true);
  }
  add(ethernet(0x0800, ipv4('198.18.0.1', '198.18.0.2', 17, udp(1, 2), { options: 8 })), LinkType.ETHERNET, 'IPv4 options', true);
  add(Buffer.concat([ethernet(0x0800, v4tcp), Buffer.alloc(6)]), LinkType.ETHERNET, 'Ethernet padding', true);
  add(ethernet(0x0800, ipv4('198.18.0.1', '198.18.0.2', 17, udp(9, 9, 3000), { moreFragments: true })), LinkType.ETHERNET, 'first fragment', true);
  add(ethernet(0x0800, ipv4('198.18.0.1', '198.18.0.2', 17, Buffer.alloc(100), { fragmentOffset: 1480 })), LinkType.ETHERNET, 'later fragment', false);
  add(ethernet(0x86dd, ipv6('fd00::1', 'fd00::2', 6, tcp(1, 2), [[0, Buffer.alloc(6)]])), LinkType.ETHERNET, 'IPv6 hop-by-hop', true);
  const chain: Array<[number, Buffer]> = [[0, Buffer.alloc(6)], [44, fragmentHeader(0, true)], [43, Buffer.alloc(6)], [60, Buffer.alloc(14)], [44, fragmentHeader(0, false)]];
  add(ethernet(0x86dd, ipv6('fd00::1', 'fd00::2', 6, tcp(1, 2), chain)), LinkType.ETHERNET, 'IPv6 chain, two fragment headers at offset 0', true);
  add(ethernet(0x8864, pppoeSession(0x57, ipv6('fd00::1', 'fd00::2', 17, udp(1, 2), chain))), LinkType.ETHERNET, 'PPPoE IPv6 chain', true);
  add(ipv6('fd00::1', 'fd00::2', 6, tcp(1, 2), [[44, fragmentHeader(0, false)], [44, fragmentHeader(8, false)]]), LinkType.RAW, 'IPv6 later fragment behind an atomic one', false);
  const bigV4 = ipv4('198.18.0.1', '198.18.0.2', 6, tcp(40000, 443, 0x10, 200));
  add(ethernet(0x0800, zeroTotalLength(bigV4)), LinkType.ETHERNET, 'IPv4 total length 0', true);
  add(ethernet(0x8864, pppoeSession(0x21, zeroTotalLength(bigV4))), LinkType.ETHERNET, 'PPPoE IPv4 total length 0', true);
  add(bsdNull(2, zeroTotalLength(bigV4)), LinkType.NULL, 'BSD NULL IPv4 total length 0', true);
  add(zeroTotalLength(ipv4('198.18.0.1', '198.18.0.2', 17, Buffer.alloc(4))), LinkType.RAW, 'IPv4 total length 0, UDP header cut', false);
  add(ethernet(0x0800, ipv4('198.18.0.1', '198.18.0.2', 1, Buffer.alloc(8))), LinkType.ETHERNET, 'ICMP', false);
  add(ethernet(0x0806, Buffer.alloc(28)), LinkType.ETHERNET, 'ARP', false);
  add(v4tcp, 147, 'unknown link type', false);
  return samples;
}


/** Damaged copies of a packet: header bytes overwritten, or the packet cut short. */
function* damaged(sample: Sample, copies: number, next: () => number): Generator<Sample> {
  const headerBytes = Math.min(sample.bytes.length, 100);
  for (let n = 0; n < copies; n++) {
    const bytes = Buffer.from(sample.bytes);
    if (next() < 0.3) {
      yield { bytes: bytes.subarray(0, Math.floor(next() * bytes.length)), linkType: sample.linkType, what: `${sample.what}, cut short` };
      continue;
    }
    const changes = 1 + Math.floor(next() * 3);
    for (let c = 0; c < changes; c++) {
      const at = Math.floor(next() * headerBytes);
      // Small values hit the interesting cases: lengths, versions, offsets, 0.
      bytes[at] = next() < 0.5 ? Math.floor(next() * 256) : Math.floor(next() * 8) << (next() < 0.5 ? 4 : 0);
    }
    yield { bytes, linkType: sample.linkType, what: `${sample.what}, damaged` };
  }
}

test('hand-built packets: keyed exactly when the decoder finds TCP/UDP, with the same key', { skip }, () => {
  for (const sample of handBuilt()) {
    assert.equal(check(sample), sample.keyed, `${sample.what}: ${sample.keyed ? 'should' : 'should not'} be keyed`);
  }
});

test('every fixture capture: each packet the decoder finds TCP/UDP is keyed alike, the rest are not keyed', { skip }, async () => {
  let keyed = 0;
  let transport = 0;
  // The recorded captures, and the same packets in PPPoE, BSD loopback, IPv4 length 0 and IPv6 chains.
  const files = ['fixtures/pcap', 'fixtures/encapsulated'].flatMap((dir) =>
    readdirSync(join(REPO_ROOT, dir))
      .filter((f) => /\.pcap(ng)?$/.test(f))
      .map((f) => join(dir, f)),
  );
  assert.ok(files.some((f) => f.includes('pppoe')) && files.some((f) => f.includes('tcp-v4-bigtcp')), files.join(', '));
  for (const file of files) {
    const source = await openCaptureFile(join(REPO_ROOT, file));
    for await (const batch of source.batches()) {
      for (let i = 0; i < batch.count; i++) {
        const start = batch.offset[i]!;
        const bytes = Buffer.from(batch.data.subarray(start, start + batch.capturedLength[i]!));
        const linkType = batch.interfaces[batch.interfaceIndex[i]!]!.linkType;
        const isTransport = decoderKey(bytes, linkType) !== null;
        const wasKeyed = check({ bytes, linkType, what: `${file} packet ${i}` });
        assert.equal(wasKeyed, isTransport, `${file} packet ${i}: keyed ${wasKeyed}, TCP/UDP ${isTransport}`);
        if (wasKeyed) keyed++;
        if (isTransport) transport++;
      }
    }
  }
  assert.ok(transport > 2000 && keyed === transport, `${keyed} of ${transport} TCP/UDP packets keyed`);
});

test('50,000 damaged packets: keyed exactly when the decoder finds TCP/UDP, with the same key', { skip }, () => {
  const next = random(20261204);
  let keyed = 0;
  let total = 0;
  const samples = handBuilt();
  for (const sample of samples) {
    for (const copy of damaged(sample, Math.ceil(50_000 / samples.length), next)) {
      total++;
      if (check(copy)) keyed++;
    }
  }
  // Both outcomes must occur, or the damage tested nothing.
  assert.ok(keyed > total / 10 && keyed < total - total / 10, `${keyed} of ${total} damaged packets keyed`);
});
