// Writes a synthetic capture for the replay benchmark: Ethernet frames of 10,000 flows
// (IPv4 and IPv6, TCP and UDP, some VLAN-tagged), headers only (a 128-byte snap length, as
// a live capture with a short snap length records them), wire lengths from 60 to 1514.
// Usage: node dist/test/bench/make-bench-capture.js OUT.pcap [PACKETS]

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { LinkType } from '../../src/capture/packet-batch.js';
import { ethernet, ipv4, ipv6, tcp, udp } from '../support/packet-builder.js';

const SNAP = 128;

export async function writeBenchCapture(path: string, packets: number): Promise<void> {
  const out = createWriteStream(path);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(SNAP, 16);
  header.writeUInt32LE(LinkType.ETHERNET, 20);
  out.write(header);
  const flows = 10_000;
  // Two frames a flow, one each way; packets cycle through them in a scattered order.
  const frames: Buffer[] = [];
  for (let f = 0; f < flows; f++) {
    const port = 1024 + (f % 60000);
    const service = [443, 80, 53, 8080][f % 4]!;
    const isTcp = f % 3 !== 0;
    const v6 = f % 5 === 0;
    const here = v6 ? `fd00::${f.toString(16)}` : `198.18.${(f >> 8) & 0xff}.${f & 0xff}`;
    const there = v6 ? `fd00:1::${f.toString(16)}` : `198.19.${(f >> 8) & 0xff}.${(f * 7) & 0xff}`;
    for (const [src, dst, sport, dport] of [[here, there, port, service], [there, here, service, port]] as const) {
      const l4 = isTcp ? tcp(sport, dport, 0x10, 200) : udp(sport, dport, 200);
      const l3 = v6 ? ipv6(src, dst, isTcp ? 6 : 17, l4) : ipv4(src, dst, isTcp ? 6 : 17, l4);
      frames.push(ethernet(v6 ? 0x86dd : 0x0800, l3, f % 17 === 0 ? [0x8100] : []));
    }
  }
  const chunk: Buffer[] = [];
  let chunkBytes = 0;
  for (let i = 0; i < packets; i++) {
    const frame = frames[(i * 7919) % frames.length]!;
    const captured = Math.min(SNAP, frame.length);
    const record = Buffer.alloc(16 + captured);
    record.writeUInt32LE(1700000000 + Math.floor(i / 100000), 0);
    record.writeUInt32LE((i * 10) % 1_000_000, 4);
    record.writeUInt32LE(captured, 8);
    record.writeUInt32LE(60 + ((i * 131) % 1455), 12);
    frame.copy(record, 16, 0, captured);
    chunk.push(record);
    chunkBytes += record.length;
    if (chunkBytes > 1 << 20) {
      if (!out.write(Buffer.concat(chunk))) await once(out, 'drain');
      chunk.length = 0;
      chunkBytes = 0;
    }
  }
  out.end(Buffer.concat(chunk));
  await once(out, 'finish');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, count] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: make-bench-capture OUT.pcap [PACKETS]\n');
    process.exit(2);
  }
  await writeBenchCapture(path, Number(count ?? 1_000_000));
}
