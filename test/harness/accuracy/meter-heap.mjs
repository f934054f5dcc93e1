#!/usr/bin/env node
// Live heap retained per flow by netmeter's accountant (src/account/meter.ts) alone, without
// capture, rates or reports: N synthetic IPv4 UDP flows (distinct 4-tuples, one local end,
// one owner) ingested in batches, then heap used after a full GC, minus before.
//
//   node --expose-gc test/harness/accuracy/meter-heap.mjs [N=100000] [--dist DIR]
//
// memory.mjs measures the whole live process; this isolates the flow table's share of it.

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './lib.mjs';

if (typeof gc !== 'function') {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}
const args = process.argv.slice(2);
const distAt = args.indexOf('--dist');
const dist = distAt >= 0 ? path.resolve(args[distAt + 1]) : path.join(REPO, 'dist');
const N = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--dist') ?? 100_000);
const { Meter } = await import(pathToFileURL(path.join(dist, 'src', 'account', 'meter.js')).href);

const owner = { pid: 1, name: 'gen', cmdline: 'gen', user: 'root', uid: 0, startTime: 1 };
const meter = new Meter({ isLocal: (a) => a === '198.18.1.1', owner: () => owner });
const FRAME = 14 + 20 + 8 + 16;

function frame(buf, off, sport, dport) {
  buf.writeUInt16BE(0x0800, off + 12);
  const ip = off + 14;
  buf[ip] = 0x45;
  buf.writeUInt16BE(20 + 8 + 16, ip + 2);
  buf[ip + 8] = 64;
  buf[ip + 9] = 17;
  buf.set([198, 18, 1, 1], ip + 12);
  buf.set([198, 18, 1, 2], ip + 16);
  const udp = ip + 20;
  buf.writeUInt16BE(sport, udp);
  buf.writeUInt16BE(dport, udp + 2);
  buf.writeUInt16BE(24, udp + 4);
}

function batchOf(start, count) {
  const data = Buffer.alloc(count * FRAME);
  const b = {
    count, data, offset: new Uint32Array(count), capturedLength: new Uint32Array(count), wireLength: new Uint32Array(count),
    timestamp: new Float64Array(count), interfaceIndex: new Uint16Array(count), interfaces: [{ name: 'veth-a', linkType: 1 }],
  };
  for (let i = 0; i < count; i++) {
    const f = start + i;
    frame(data, i * FRAME, 40000 + (f % 10), 1024 + Math.floor(f / 10));
    b.offset[i] = i * FRAME;
    b.capturedLength[i] = FRAME;
    b.wireLength[i] = FRAME;
    b.timestamp[i] = 1000 + f / 1e4;
  }
  return b;
}

gc();
const before = process.memoryUsage().heapUsed;
for (let s = 0; s < N; s += 4096) meter.ingest(batchOf(s, Math.min(4096, N - s)));
gc();
gc();
const after = process.memoryUsage().heapUsed;
let records = 0;
for (const _ of meter.records()) records++;
console.log(JSON.stringify({ flows: N, records, heapRetainedMB: +((after - before) / 1048576).toFixed(1), bytesPerFlow: Math.round((after - before) / N) }));
