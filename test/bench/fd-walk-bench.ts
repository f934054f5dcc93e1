// Benchmark of the socket-owner walk: the plain Node walk against the N-API addon over a
// /proc holding many sockets, timed side by side, with the event-loop delay each causes;
// then the whole re-read of /proc on the main thread and on the snapshot worker thread.
//
//   npm run build && node dist/test/bench/fd-walk-bench.js [--sockets 20000] [--runs 10]

import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  nativeAddonError,
  walkSocketOwnersJs,
  walkSocketOwnersNative,
  type SocketOwners,
} from '../../src/attribute/socket-owners.js';
import { ProcFs } from '../../src/attribute/proc/proc-fs.js';
import { takeSocketSnapshot } from '../../src/attribute/socket-snapshot.js';
import { SnapshotWorker } from '../../src/attribute/snapshot-worker.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const socketCount = option('--sockets', 20000);
const runs = option('--runs', 10);

// `node --test dist/test/` also picks up files under test/bench/; a benchmark is not a test,
// so under the runner it only says how to run it.
if (process.env.NODE_TEST_CONTEXT !== undefined) console.log('fd-walk-bench: a benchmark, run it with node directly');
else if (args.includes('--hold')) await holdSockets(socketCount);
else await bench();

/** Child mode: keep socketCount UDP sockets open until the parent closes our stdin. */
async function holdSockets(count: number): Promise<void> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = createSocket('udp4');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  }
  process.stdout.write('ready\n');
  process.stdin.resume();
  await once(process.stdin, 'end');
  for (const socket of sockets) socket.close();
}

async function bench(): Promise<void> {
  const addonError = nativeAddonError();
  if (addonError !== undefined) throw new Error(`native addon did not load: ${addonError.message}`);

  // A process may hold no more descriptors than its hard limit (20000 on some CI hosts, and
  // raising it needs CAP_SYS_RESOURCE), so the sockets are spread over several holders,
  // each lifting its soft limit to the hard one. The walk's cost is per descriptor anyway.
  const hardLimit = await shell('ulimit -Hn');
  const perHolder = hardLimit === 'unlimited' ? 10000 : Math.min(10000, Number(hardLimit) - 64);
  const holders = [];
  for (let left = socketCount; left > 0; left -= perHolder) holders.push(startHolder(Math.min(left, perHolder)));
  const held = await Promise.allSettled(holders.map((holder) => holder.ready));
  const holderPids = new Set(holders.map((holder) => holder.process.pid!));

  try {
    const failed = held.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const walks = { js: walkSocketOwnersJs, native: walkSocketOwnersNative };
    const results: Record<keyof typeof walks, { ms: number[]; maxDelayMs: number[]; sockets: number }> = {
      js: { ms: [], maxDelayMs: [], sockets: 0 },
      native: { ms: [], maxDelayMs: [], sockets: 0 },
    };
    // One untimed warm-up each (JIT, dentry cache), then interleave so drift hits both alike.
    for (const walk of Object.values(walks)) await walk('/proc');
    for (let run = 0; run < runs; run++) {
      for (const [name, walk] of Object.entries(walks) as Array<[keyof typeof walks, typeof walkSocketOwnersJs]>) {
        const delay = monitorEventLoopDelay({ resolution: 1 });
        delay.enable();
        const start = performance.now();
        const owners = await walk('/proc');
        const ms = performance.now() - start;
        delay.disable();
        results[name].ms.push(ms);
        results[name].maxDelayMs.push(delay.max / 1e6);
        results[name].sockets = heldBy(owners, holderPids);
      }
    }

    for (const [name, result] of Object.entries(results)) {
      if (result.sockets < socketCount) throw new Error(`${name} walk found ${result.sockets} of ${socketCount} held sockets`);
    }
    const js = median(results.js.ms);
    const native = median(results.native.ms);
    console.log(`socket-owner walk over /proc, ${socketCount} UDP sockets held by ${holders.length} processes, ${runs} runs each`);
    console.log('walk     median ms   min ms   max event-loop delay ms (median / worst)');
    for (const [name, result] of Object.entries(results)) {
      console.log(
        `${name.padEnd(8)} ${median(result.ms).toFixed(1).padStart(9)} ${Math.min(...result.ms).toFixed(1).padStart(8)}` +
          `   ${median(result.maxDelayMs).toFixed(1)} / ${Math.max(...result.maxDelayMs).toFixed(1)}`,
      );
    }
    console.log(`js / native median time: ${(js / native).toFixed(2)}x`);

    // The whole re-read the live view does each interval: the four socket tables, the walk,
    // and the owners' comm/cmdline/status/stat.
    // On the main thread, and as the live view does it, on the snapshot worker thread.
    const worker = new SnapshotWorker();
    const ways = {
      'main thread': () => takeSocketSnapshot(new ProcFs('/proc')),
      'worker thread': () => worker.take('/proc'),
    };
    for (const [where, take] of Object.entries(ways)) {
      const full: number[] = [];
      const fullDelay: number[] = [];
      let snapshotSockets = 0;
      for (let run = 0; run < runs; run++) {
        const delay = monitorEventLoopDelay({ resolution: 1 });
        delay.enable();
        const start = performance.now();
        const snapshot = await take();
        full.push(performance.now() - start);
        delay.disable();
        fullDelay.push(delay.max / 1e6);
        snapshotSockets = snapshot?.sockets.length ?? snapshotSockets; // undefined: the same as the last
      }
      console.log(
        `full re-read on the ${where} (${snapshotSockets} sockets in the tables): median ${median(full).toFixed(1)} ms, ` +
          `max event-loop delay ${median(fullDelay).toFixed(1)} / ${Math.max(...fullDelay).toFixed(1)} ms`,
      );
    }
    await worker.close();
    console.log('reproduce: npm run build && node dist/test/bench/fd-walk-bench.js --sockets 20000 --runs 10');
  } finally {
    for (const holder of holders) holder.process.stdin.end();
    await Promise.all(holders.map((holder) => holder.exited));
  }
}

/** A child process holding count sockets; ready settles once they are all open. */
function startHolder(count: number) {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    'bash',
    ['-c', 'ulimit -Sn "$(ulimit -Hn)" && exec "$0" "$@"', process.execPath, self, '--hold', '--sockets', String(count)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  const ready = Promise.race([once(child.stdout, 'data'), exited]).then(([line]) => {
    if (String(line).trim() !== 'ready') throw new Error(`a socket holder exited before opening ${count} sockets`);
  });
  return { process: child, ready, exited };
}

async function shell(command: string): Promise<string> {
  const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  await once(child, 'exit');
  return output.trim();
}

function heldBy(owners: SocketOwners, holderPids: Set<number>): number {
  let count = 0;
  for (const pids of owners.values()) if (pids.some((pid) => holderPids.has(pid))) count++;
  return count;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
