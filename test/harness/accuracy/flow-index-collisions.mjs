#!/usr/bin/env node
// The flow table's hash (src/account/flow-index.ts) against flows that differ only in one
// port: N UDP flows between 198.18.1.1 and 198.18.1.2 whose varying port is on the
// lower-address endpoint ("A" of the key: a client making many connections to one server
// from a lower address) or on the higher-address one. Times Meter.ingest of one packet per
// flow and Meter.retireIdle (which rebuilds the table; live netmeter runs it every second).
//
//   node test/harness/accuracy/flow-index-collisions.mjs [--dist DIR] [N...]
//
// Found by the soak (docs/accuracy.md): with the varying port on side A, the low 16 bits of
// the key's hash do not change, every such flow probes the same run of slots, and lookups and
// rebuilds grow with the number of flows (quadratic in total).

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './lib.mjs';

const args = process.argv.slice(2);
const distAt = args.indexOf('--dist');
const dist = distAt >= 0 ? path.resolve(args[distAt + 1]) : path.join(REPO, 'dist');
const sizes = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--dist').map(Number);
const { Meter } = await import(pathToFileURL(path.join(dist, 'src', 'account', 'meter.js')).href);
const owner = { pid: 1, name: 'gen', cmdline: 'gen', user: 'root', uid: 0, startTime: 1 };

function run(n, varyA) {
  const meter = new Meter({ isLocal: (a) => a === '198.18.1.1', owner: () => owner });
  const FRAME = 58;
  const data = Buffer.alloc(n * FRAME);
  const b = {
    count: n, data, offset: new Uint32Array(n), capturedLength: new Uint32Array(n).fill(FRAME), wireLength: new Uint32Array(n).fill(FRAME),
    timestamp: new Float64Array(n).fill(1000), interfaceIndex: new Uint16Array(n), interfaces: [{ name: 'veth-a', linkType: 1 }],
  };
  for (let i = 0; i < n; i++) {
    const o = i * FRAME;
    b.offset[i] = o;
    data.writeUInt16BE(0x0800, o + 12);
    const ip = o + 14;
    data[ip] = 0x45;
    data.writeUInt16BE(44, ip + 2);
    data[ip + 8] = 64;
    data[ip + 9] = 17;
    data.set([198, 18, 1, 1], ip + 12);
    data.set([198, 18, 1, 2], ip + 16);
    data.writeUInt16BE(varyA ? 10000 + (i % 55000) : 40000, ip + 20);
    data.writeUInt16BE(varyA ? 22010 : 10000 + (i % 55000), ip + 22);
    data.writeUInt16BE(24, ip + 24);
  }
  let t = performance.now();
  meter.ingest(b);
  const ingestMs = performance.now() - t;
  t = performance.now();
  meter.retireIdle(0);
  return { ingestMs, retireMs: performance.now() - t };
}

console.log('| flows | ingest, port varies on A (lower address) | retireIdle | ingest, port varies on B | retireIdle |');
console.log('|---:|---:|---:|---:|---:|');
for (const n of sizes.length ? sizes : [1000, 5000, 20000]) {
  const a = run(n, true);
  const b = run(n, false);
  console.log(`| ${n} | ${a.ingestMs.toFixed(0)} ms | ${a.retireMs.toFixed(0)} ms | ${b.ingestMs.toFixed(0)} ms | ${b.retireMs.toFixed(0)} ms |`);
}
