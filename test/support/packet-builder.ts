// Builds packet bytes field by field for decoder tests: the cases real captures rarely
// hold (VLAN stacks, every IPv6 extension header, damaged headers).

import { parseIp } from '../../src/decode/address.js';

export function ip(text: string): Buffer {
  const bytes = parseIp(text);
  if (!bytes) throw new Error(`bad address ${text}`);
  return Buffer.from(bytes);
}

export function tcp(sport: number, dport: number, flags = 0x18, payload = 0): Buffer {
  const b = Buffer.alloc(20 + payload);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b[12] = 5 << 4;
  b[13] = flags;
  return b;
}

export function udp(sport: number, dport: number, payload = 0): Buffer {
  const b = Buffer.alloc(8 + payload);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(8 + payload, 4);
  return b;
}

export function ipv4(src: string, dst: string, protocol: number, payload: Buffer, opts: { options?: number; fragmentOffset?: number; moreFragments?: boolean } = {}): Buffer {
  const headerLength = 20 + (opts.options ?? 0);
  const b = Buffer.alloc(headerLength + payload.length);
  b[0] = 0x40 | (headerLength / 4);
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE((opts.moreFragments ? 0x2000 : 0) | ((opts.fragmentOffset ?? 0) / 8), 6);
  b[8] = 64;
  b[9] = protocol;
  ip(src).copy(b, 12);
  ip(dst).copy(b, 16);
  payload.copy(b, headerLength);
  return b;
}

/** An IPv6 packet; `extensions` are [type, body] pairs chained in order before the payload. */
export function ipv6(src: string, dst: string, protocol: number, payload: Buffer, extensions: Array<[number, Buffer]> = []): Buffer {
  const chain: Buffer[] = [];
  for (let i = 0; i < extensions.length; i++) {
    const body = extensions[i]![1];
    const next = i + 1 < extensions.length ? extensions[i + 1]![0] : protocol;
    const ext = Buffer.concat([Buffer.from([next, 0]), body]);
    if (extensions[i]![0] !== 44) ext[1] = ext.length / 8 - 1; // fragment header has a fixed length
    chain.push(ext);
  }
  const rest = Buffer.concat([...chain, payload]);
  const b = Buffer.alloc(40);
  b[0] = 0x60;
  b.writeUInt16BE(rest.length, 4);
  b[6] = extensions.length ? extensions[0]![0] : protocol;
  b[7] = 64;
  ip(src).copy(b, 8);
  ip(dst).copy(b, 24);
  return Buffer.concat([b, rest]);
}

export function ethernet(ethertype: number, payload: Buffer, vlanTags: number[] = []): Buffer {
  const tags = vlanTags.map((tpid, i) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(tpid, 0);
    t.writeUInt16BE(100 + i, 2);
    return t;
  });
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ethertype);
  return Buffer.concat([Buffer.alloc(12, 0xaa), ...tags, type, payload]);
}

export function linuxSll(ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(ethertype, 14);
  return Buffer.concat([h, payload]);
}

export function linuxSll2(ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ethertype, 0);
  return Buffer.concat([h, payload]);
}

export function bsdNull(family: number, payload: Buffer, littleEndian = true): Buffer {
  const h = Buffer.alloc(4);
  if (littleEndian) h.writeUInt32LE(family);
  else h.writeUInt32BE(family);
  return Buffer.concat([h, payload]);
}


/** A PPPoE session header and PPP's protocol (2 bytes, or 1 when `compressed`), before `payload`; goes after ethertype 0x8864. */
export function pppoeSession(pppProtocol: number, payload: Buffer, opts: { compressed?: boolean; code?: number } = {}): Buffer {
  const protocol = opts.compressed ? Buffer.from([pppProtocol]) : Buffer.from([pppProtocol >> 8, pppProtocol & 0xff]);
  const h = Buffer.alloc(6);
  h[0] = 0x11; // version 1, type 1
  h[1] = opts.code ?? 0;
  h.writeUInt16BE(0x2a2a, 2); // session id
  h.writeUInt16BE(protocol.length + payload.length, 4);
  return Buffer.concat([h, protocol, payload]);
}

/** An IPv6 fragment header body for `ipv6(...)` extensions: offset in bytes, more-fragments flag. */
export function fragmentHeader(offset: number, moreFragments: boolean, id = 0x1234): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE((offset / 8) << 3 | (moreFragments ? 1 : 0), 0);
  b.writeUInt32BE(id, 2);
  return b;
}

/** Sets an IPv4 packet's total length to 0, as a capture below TCP segmentation offload shows it. */
export function zeroTotalLength(packet: Buffer): Buffer {
  const b = Buffer.from(packet);
  b.writeUInt16BE(0, 2);
  return b;
}
