// Shaped-link accuracy (rate only): netmeter speedtest against iperf3 through `tc tbf` on a
// veth pair between two network namespaces (server in one, client in the other), at each
// rate, in the same run, alternating. No added delay (this kernel has no netem): the
// 40 ms round trip, the CPU rule and the data comparison are in speedtest-delay-bench.ts.
// Needs root.
// Usage: node dist/test/bench/speedtest-shaped-bench.js [--rates 20,100,500] [--runs 3]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { SpeedtestResult } from '../../src/speedtest/result.js';

const { values } = parseArgs({ options: { rates: { type: 'string', default: '20,100,500' }, runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '8' } } });
const rates = values.rates.split(',').map(Number);
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const S = 'speedbS';
const C = 'speedbC';
const SERVER = '198.18.70.1';
const CLIENT = '198.18.70.2';
const PORT = 18800;

function sh(...args: string[]): string {
  const out = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${args.join(' ')}: ${out.stderr.trim()}`);
  return out.stdout;
}
const inNs = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);

function teardown(): void {
  for (const ns of [S, C]) spawnSync('ip', ['netns', 'del', ns]);
}

function setup(): void {
  teardown();
  sh('ip', 'netns', 'add', S);
  sh('ip', 'netns', 'add', C);
  sh('ip', 'link', 'add', 'speedbS0', 'netns', S, 'type', 'veth', 'peer', 'name', 'speedbC0', 'netns', C);
  inNs(S, 'ip', 'addr', 'add', `${SERVER}/24`, 'dev', 'speedbS0');
  inNs(C, 'ip', 'addr', 'add', `${CLIENT}/24`, 'dev', 'speedbC0');
  for (const [ns, dev] of [[S, 'speedbS0'], [C, 'speedbC0']] as const) {
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    inNs(ns, 'ip', 'link', 'set', dev, 'up');
  }
}

/** The same tbf on both ends' egress: download leaves the server, upload the client. */
function shape(mbit: number): void {
  const burstBytes = Math.max(16_000, Math.round((mbit * 1e6) / 8 * 0.004));
  for (const [ns, dev] of [[S, 'speedbS0'], [C, 'speedbC0']] as const) {
    spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root']);
    inNs(ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', String(burstBytes), 'latency', '20ms');
  }
}

function iperf3(reverse: boolean): number {
  const out = inNs(C, 'iperf3', '-c', SERVER, '-p', String(PORT + 1), '-P', '4', '-O', '3', '-t', String(seconds), '-J', ...(reverse ? ['-R'] : []));
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6;
}

function netmeter(): SpeedtestResult {
  const out = spawnSync('ip', ['netns', 'exec', C, process.execPath, cli, 'speedtest', `http://${SERVER}:${PORT}/`, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.stdout) as SpeedtestResult;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const children: ChildProcess[] = [];
process.on('SIGINT', () => {
  children.forEach((c) => c.kill());
  teardown();
  process.exit(130);
});
try {
  setup();
  const server = spawn('ip', ['netns', 'exec', S, process.execPath, cli, 'speedtest-server', '--listen', `${SERVER}:${PORT}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(server, spawn('ip', ['netns', 'exec', S, 'iperf3', '-s', '-p', String(PORT + 1)], { stdio: 'ignore' }));
  await new Promise<void>((resolve) => server.stdout!.on('data', (d: Buffer) => (d.toString().includes('listening') ? resolve() : undefined)));
  await new Promise((r) => setTimeout(r, 500));
  process.stdout.write('| rate | netmeter down | iperf3 -R | down ratio | netmeter up | iperf3 | up ratio | idle ms | loaded ms ↓/↑ | data used |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n');
  for (const rate of rates) {
    shape(rate);
    const r: { d: number; u: number; id: number; iu: number; idle: number; ld: number; lu: number; used: number }[] = [];
    for (let i = 0; i < runs; i++) {
      const id = iperf3(true);
      const iu = iperf3(false);
      const n = netmeter();
      r.push({ d: n.download?.mbps ?? NaN, u: n.upload?.mbps ?? NaN, id, iu, idle: n.idleLatency?.medianMs ?? NaN, ld: n.download?.loadedLatency.medianMs ?? NaN, lu: n.upload?.loadedLatency.medianMs ?? NaN, used: n.bytesUsed.total });
    }
    const m = (k: keyof (typeof r)[0]) => median(r.map((x) => x[k]));
    process.stdout.write(`| ${rate} | ${m('d').toFixed(1)} | ${m('id').toFixed(1)} | ${(m('d') / m('id')).toFixed(3)} | ${m('u').toFixed(1)} | ${m('iu').toFixed(1)} | ${(m('u') / m('iu')).toFixed(3)} | ${m('idle').toFixed(2)} | ${m('ld').toFixed(1)}/${m('lu').toFixed(1)} | ${(m('used') / 1e6).toFixed(0)} MB |\n`);
  }
} finally {
  children.forEach((c) => c.kill());
  teardown();
}
