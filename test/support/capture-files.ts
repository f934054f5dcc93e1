// Writes pcap and pcapng files byte by byte for reader tests: both byte orders, both
// timestamp precisions, several interfaces, unknown blocks.

class Writer {
  readonly parts: Buffer[] = [];
  constructor(readonly littleEndian: boolean) {}
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    if (this.littleEndian) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.littleEndian) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  padded(b: Buffer): this {
    this.parts.push(b, Buffer.alloc((4 - (b.length % 4)) % 4));
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface TestPacket {
  data: Buffer;
  wireLength?: number;
  ts?: number;
  iface?: number;
}

/** A classic pcap file (microsecond, little-endian unless asked) holding these packets. */
export function pcapFile(linkType: number, packets: TestPacket[], opts: { bigEndian?: boolean; nanos?: boolean } = {}): Buffer {
  const w = new Writer(!opts.bigEndian);
  w.u32(opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(262144).u32(linkType);
  for (const [i, p] of packets.entries()) {
    const ts = p.ts ?? 1700000000 + i;
    const fraction = Math.round((ts % 1) * (opts.nanos ? 1e9 : 1e6));
    w.u32(Math.floor(ts)).u32(fraction).u32(p.data.length).u32(p.wireLength ?? p.data.length).bytes(p.data);
  }
  return w.done();
}

export type PcapngBlock =
  | { type: 'interface'; linkType: number; name?: string; tsresol?: number; snapLength?: number }
  | { type: 'enhanced'; packet: TestPacket }
  | { type: 'simple'; packet: TestPacket }
  | { type: 'obsolete'; packet: TestPacket }
  | { type: 'unknown'; code: number; body: Buffer }
  | { type: 'section' };

/** A pcapng file from blocks; a section header is written first unless the first block is one. */
export function pcapngFile(blocks: PcapngBlock[], opts: { bigEndian?: boolean } = {}): Buffer {
  const le = !opts.bigEndian;
  const out: Buffer[] = [];
  const block = (type: number, body: Buffer) => {
    const w = new Writer(le);
    w.u32(type).u32(body.length + 12).bytes(body).u32(body.length + 12);
    out.push(w.done());
  };
  const section = () => {
    const body = new Writer(le).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).done();
    block(0x0a0d0d0a, body);
  };
  if (blocks[0]?.type !== 'section') section();
  const resolution: number[] = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'section':
        section();
        resolution.length = 0;
        break;
      case 'interface': {
        const w = new Writer(le).u16(b.linkType).u16(0).u32(b.snapLength ?? 262144);
        if (b.name) {
          const name = Buffer.from(b.name);
          w.u16(2).u16(name.length).padded(name);
        }
        if (b.tsresol !== undefined) w.u16(9).u16(1).padded(Buffer.from([b.tsresol]));
        w.u16(0).u16(0);
        block(1, w.done());
        resolution.push(b.tsresol === undefined ? 1e6 : b.tsresol & 0x80 ? 2 ** (b.tsresol & 0x7f) : 10 ** b.tsresol);
        break;
      }
      case 'enhanced':
      case 'obsolete': {
        const p = b.packet;
        const iface = p.iface ?? 0;
        const ticks = BigInt(Math.round((p.ts ?? 1700000000) * (resolution[iface] ?? 1e6)));
        const w = new Writer(le);
        if (b.type === 'enhanced') w.u32(iface);
        else w.u16(iface).u16(0);
        w.u32(Number(ticks >> 32n)).u32(Number(ticks & 0xffffffffn)).u32(p.data.length).u32(p.wireLength ?? p.data.length).padded(p.data);
        block(b.type === 'enhanced' ? 6 : 2, w.done());
        break;
      }
      case 'simple':
        block(3, new Writer(le).u32(b.packet.wireLength ?? b.packet.data.length).padded(b.packet.data).done());
        break;
      case 'unknown':
        block(b.code, new Writer(le).padded(b.body).done());
        break;
    }
  }
  return Buffer.concat(out);
}
