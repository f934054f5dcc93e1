// Per-packet cost of the TypeScript packet path alone: a capture held in memory, read by the
// pcap reader and handed to Meter.ingest, over and over into the same meter, so start-up,
// file I/O, opening conversations and writing the report are left out after the first pass.
// Reports CPU ns per packet per pass and the median of the passes after the first.
//
// Two captures: the replay benchmark's (10,000 flows, scattered; see make-bench-capture.ts)
// and a live-like one (60-byte UDP frames of 8 flows to a local address, the traffic of
// live-cpu-bench.ts). Meant for A/B runs of two builds side by side, and for profiling
// (node --cpu-prof) or instruction counting (valgrind --tool=cachegrind with two --passes
// values: the difference over the extra packets is the steady-state cost per packet).
//
// Usage: npm run build && node dist/test/bench/ingest-bench.js [--capture replay|live|FILE]
//        [--packets 1000000] [--passes 5]

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Meter } from '../../src/account/meter.js';
import type { Attribution } from '../../src/account/attribution.js';
import { PcapFileSource } from '../../src/capture/pcap-file.js';
import { LinkType } from '../../src/capture/packet-batch.js';
import { writeBenchCapture } from './make-bench-capture.js';
import { ethernet, ipv4, udp } from '../support/packet-builder.js';

const { values } = parseArgs({
  options: {
    capture: { type: 'string', default: 'replay' },
    packets: { type: 'string', default: '1000000' },
    passes: { type: 'string', default: '5' },
  },
});
const packets = Number(values.packets);
const passes = Number(values.passes);

/** Live-like traffic: 198.18.0.1 → 198.18.0.2, source ports 40000-40003, destination 5001-5008. */
function writeLiveLikeCapture(path: string, count: number): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(256, 16);
  header.writeUInt32LE(LinkType.ETHERNET, 20);
  const parts: Buffer[] = [header];
  for (let i = 0; i < count; i++) {
    const frame = ethernet(0x0800, ipv4('198.18.0.1', '198.18.0.2', 17, udp(40000 + (i % 4), 5001 + (i % 8), 18)));
    const record = Buffer.alloc(16);
    record.writeUInt32LE(1_700_000_000 + Math.floor(i / 100_000), 0);
    record.writeUInt32LE((i * 10) % 1_000_000, 4);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    parts.push(record, frame);
  }
  writeFileSync(path, Buffer.concat(parts));
}

let path = values.capture;
let local = false;
if (path === 'replay') {
  path = `/tmp/netmeter-bench-${packets}.pcap`;
  if (!existsSync(path)) await writeBenchCapture(path, packets);
} else if (path === 'live') {
  path = `/tmp/netmeter-ingest-live-${packets}.pcap`;
  if (!existsSync(path)) writeLiveLikeCapture(path, packets);
  local = true;
}
const bytes = readFileSync(path);

// Live capture knows its own addresses; the replay benchmark runs without a snapshot.
const attribution: Attribution = {
  isLocal: (address) => local && address === '198.18.0.2',
  owner: () => undefined,
};
const meter = new Meter(attribution);
const ns: number[] = [];
let count = 0;
for (let pass = 0; pass < passes; pass++) {
  const before = process.cpuUsage();
  count = 0;
  for await (const batch of new PcapFileSource(path, bytes).batches()) {
    meter.ingest(batch);
    count += batch.count;
  }
  const used = process.cpuUsage(before);
  ns.push(((used.user + used.system) * 1000) / count);
}
const steady = ns.slice(1).sort((a, b) => a - b);
const median = steady.length > 0 ? steady[Math.floor(steady.length / 2)]! : ns[0]!;
process.stdout.write(
  `${path}: ${count.toLocaleString('en')} packets × ${passes} passes; CPU ns/packet per pass: ${ns.map((n) => n.toFixed(0)).join(', ')}; ` +
    `median after the first: ${median.toFixed(0)}; totals ${meter.totals.sent.bytes + meter.totals.received.bytes} bytes\n`,
);
