#!/usr/bin/env node
// How many short-lived TCP connections can a /proc re-read see with their owner at all?
// Runs the short-tcp-client workload of run.mjs (an HTTP-like client in namespace A, 8
// connections at a time, each ~25 ms) and, inside namespace A, takes netmeter's own socket
// snapshots (takeSocketSnapshot from dist: socket tables, then the fd walk) back to back, or
// with a pause between them, counting the distinct client 4-tuples each cadence saw owned.
//
//   sudo node test/harness/accuracy/snapshot-visibility.mjs [--dist DIR] [--gaps 0,100]
//
// This is the ceiling for any attribution by /proc re-reads: a connection no snapshot saw
// with its owner can only be "unknown" (or credited through a fallback such as a listener).

import path from 'node:path';
import { Net, ProcGroup, REPO, WORKERS, log, sleep } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const dist = path.resolve(opt('--dist', path.join(REPO, 'dist')));
const gaps = opt('--gaps', '0,100').split(',').map(Number);

// The probe itself runs inside namespace A (so /proc/net shows A's tables).
const PROBE = `
const [dist, gap, ms] = process.argv.slice(1);
const { ProcFs } = await import(dist + '/src/attribute/proc/proc-fs.js');
const { takeSocketSnapshot } = await import(dist + '/src/attribute/socket-snapshot.js');
const fs = new ProcFs('/proc');
const seen = new Set(), owned = new Set(), took = [];
const until = Date.now() + Number(ms);
while (Date.now() < until) {
  const t = performance.now();
  const s = await takeSocketSnapshot(fs);
  took.push(performance.now() - t);
  const held = new Set(s.owners.map(([inode]) => inode));
  for (const x of s.sockets) if (x.protocol === 'tcp' && x.remotePort === 21010) { seen.add(x.localPort); if (held.has(x.inode)) owned.add(x.localPort); }
  if (Number(gap)) await new Promise((r) => setTimeout(r, Number(gap)));
}
took.sort((a, b) => a - b);
console.log(JSON.stringify({ snapshots: took.length, medianMs: +took[took.length >> 1].toFixed(1), tuplesInTables: seen.size, tuplesWithOwner: owned.size }));
`;

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  const net = new Net('nm-accv');
  const group = new ProcGroup();
  try {
    net.up();
    net.setRate('50mbit');
    const server = group.spawn('server', 'ip', ['netns', 'exec', net.nsB, process.execPath, WORKERS, 'http-server', '--bind', net.b4, '--port', '21010', '--delay-ms', '20']);
    await server.event('ready');
    console.log('| pause between snapshots | snapshots | median snapshot | connections made | seen in the tables | seen with their owner |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    for (const gap of gaps) {
      const client = group.spawn('client', 'ip', ['netns', 'exec', net.nsA, process.execPath, WORKERS, 'http-client', '--connect', net.b4, '--port', '21010',
        '--concurrency', '8', '--duration-ms', '4000', '--request-size', '300', '--response-size', '3000']);
      await client.event('ready');
      await sleep(300);
      const probe = group.spawn('probe', 'ip', ['netns', 'exec', net.nsA, process.execPath, '--input-type=module', '-e', PROBE, dist, String(gap), '3000']);
      await probe.exited;
      const done = await client.event('done', 30_000);
      const r = JSON.parse(probe.out.trim().split('\n').pop());
      // The probe ran for 3 of the client's 4 seconds: scale the connection count to it.
      const made = Math.round((done.connections * 3) / 4);
      console.log(`| ${gap} ms | ${r.snapshots} | ${r.medianMs} ms | ~${made} | ${r.tuplesInTables} | ${r.tuplesWithOwner} (${((100 * r.tuplesWithOwner) / made).toFixed(0)}%) |`);
      log(`gap ${gap} ms done`);
    }
  } finally {
    await group.cleanup();
    net.down();
  }
}

main().catch((e) => {
  process.stderr.write(`snapshot-visibility: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
