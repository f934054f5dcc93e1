// Shaped-link accuracy with delay: netmeter speedtest against iperf3 through `tc tbf` and a
// 40 ms round trip made by a delay line over two TUN devices (test/harness/delay-line.py;
// this kernel has no netem). Three namespaces: client (198.18.71.2) — router with the
// delay line — server (198.18.72.2); the router sends what arrives from either side into
// a TUN device, the delay line writes it out of the other one DELAY later. MTUs are 65000
// so the line handles few, large packets. First it shows, with ping and iperf3, that the
// line alone adds the delay and carries the traffic; then per rate: iperf3 -P 4 -O 3 (and
// -R), ping during the iperf3 download (latency under load), and netmeter speedtest.
// Needs root. Usage: node dist/test/bench/speedtest-delay-bench.js [--rates 20,100,500] [--runs 5] [--delay-ms 20]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { SpeedtestResult } from '../../src/speedtest/result.js';

const { values } = parseArgs({ options: { rates: { type: 'string', default: '20,100,500' }, runs: { type: 'string', default: '5' }, seconds: { type: 'string', default: '8' }, 'delay-ms': { type: 'string', default: '20' } } });
const rates = values.rates.split(',').map(Number);
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const oneWay = Number(values['delay-ms']);
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const line = fileURLToPath(new URL('../../../test/harness/delay-line.py', import.meta.url));
const [C, M, S] = ['speeddC', 'speeddM', 'speeddS'];
const SERVER = '198.18.72.2';
const PORT = 18900;

function sh(...args: string[]): string {
  const out = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${args.join(' ')}: ${out.stderr.trim()}`);
  return out.stdout;
}
const inNs = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);
const teardown = () => [C, M, S].forEach((ns) => spawnSync('ip', ['netns', 'del', ns]));

const children: ChildProcess[] = [];
function start(ns: string, args: string[], ready?: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  if (!ready) return Promise.resolve(child);
  return new Promise((resolve) => child.stdout!.on('data', (d: Buffer) => (d.toString().includes(ready) ? resolve(child) : undefined)));
}

async function setup(): Promise<void> {
  teardown();
  for (const ns of [C, M, S]) {
    sh('ip', 'netns', 'add', ns);
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  sh('ip', 'link', 'add', 'speeddc0', 'netns', C, 'type', 'veth', 'peer', 'name', 'speeddmc', 'netns', M);
  sh('ip', 'link', 'add', 'speedds0', 'netns', S, 'type', 'veth', 'peer', 'name', 'speeddms', 'netns', M);
  inNs(C, 'ip', 'addr', 'add', '198.18.71.2/30', 'dev', 'speeddc0');
  inNs(S, 'ip', 'addr', 'add', `${SERVER}/30`, 'dev', 'speedds0');
  inNs(M, 'ip', 'addr', 'add', '198.18.71.1/30', 'dev', 'speeddmc');
  inNs(M, 'ip', 'addr', 'add', '198.18.72.1/30', 'dev', 'speeddms');
  for (const [ns, dev] of [[C, 'speeddc0'], [S, 'speedds0'], [M, 'speeddmc'], [M, 'speeddms']] as const) inNs(ns, 'ip', 'link', 'set', dev, 'mtu', '65000', 'up');
  inNs(C, 'ip', 'route', 'add', 'default', 'via', '198.18.71.1');
  inNs(S, 'ip', 'route', 'add', 'default', 'via', '198.18.72.1');
  inNs(M, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  await start(M, ['python3', line, 'speeddA', 'speeddB', String(oneWay)], 'ready');
  for (const dev of ['speeddA', 'speeddB']) inNs(M, 'ip', 'link', 'set', dev, 'mtu', '65000', 'up');
  for (const k of ['all', 'default', 'speeddmc', 'speeddms', 'speeddA', 'speeddB']) inNs(M, 'sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`);
  // From the client side into A (the line writes it out of B, then on to the server), and back.
  inNs(M, 'ip', 'route', 'add', 'default', 'dev', 'speeddA', 'table', '101');
  inNs(M, 'ip', 'route', 'add', 'default', 'dev', 'speeddB', 'table', '102');
  inNs(M, 'ip', 'rule', 'add', 'iif', 'speeddmc', 'lookup', '101');
  inNs(M, 'ip', 'rule', 'add', 'iif', 'speeddms', 'lookup', '102');
}

/** tbf on the server's egress (download) and the client's (upload); 0: none. */
function shape(mbit: number): void {
  for (const [ns, dev] of [[S, 'speedds0'], [C, 'speeddc0']] as const) {
    spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root']);
    if (mbit > 0) inNs(ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', String(Math.max(70_000, Math.round((mbit * 1e6) / 8 * 0.004))), 'latency', '20ms');
  }
}

function pingMedian(output: string): number {
  const rtts = [...output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return median(rtts);
}

async function iperf3(reverse: boolean, pingDuring = false): Promise<{ mbps: number; pingMs: number }> {
  const ping = pingDuring ? spawn('ip', ['netns', 'exec', C, 'ping', '-i', '0.2', '-w', String(seconds + 2), SERVER], { stdio: ['ignore', 'pipe', 'ignore'] }) : undefined;
  let pingText = '';
  ping?.stdout!.on('data', (d) => (pingText += d));
  const out = spawnSync('ip', ['netns', 'exec', C, 'iperf3', '-c', SERVER, '-p', String(PORT + 1), '-P', '4', '-O', '3', '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])], { encoding: 'utf8' });
  if (ping) await new Promise((r) => ping.once('exit', r));
  const mbps = (JSON.parse(out.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6;
  // Round trips once iperf3's 3 omitted seconds are over.
  return { mbps, pingMs: pingText ? pingMedian(pingText.split('\n').slice(16).join('\n')) : NaN };
}

function netmeter(): SpeedtestResult {
  const out = spawnSync('ip', ['netns', 'exec', C, process.execPath, cli, 'speedtest', `http://${SERVER}:${PORT}/`, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.stdout) as SpeedtestResult;
}

function median(v: number[]): number {
  const s = v.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

process.on('SIGINT', () => {
  children.forEach((c) => c.kill());
  teardown();
  process.exit(130);
});
try {
  await setup();
  await start(S, [process.execPath, cli, 'speedtest-server', '--listen', `${SERVER}:${PORT}`], 'listening');
  await start(S, ['iperf3', '-s', '-p', String(PORT + 1)]);
  await new Promise((r) => setTimeout(r, 500));
  shape(0);
  const idlePing = pingMedian(inNs(C, 'ping', '-c', '20', '-i', '0.2', SERVER));
  const lineDown = (await iperf3(true)).mbps;
  const lineUp = (await iperf3(false)).mbps;
  process.stdout.write(`The line alone (no tbf): ping median ${idlePing.toFixed(2)} ms (configured ${2 * oneWay} ms); iperf3 -P 4 -R ${lineDown.toFixed(0)} Mbit/s, iperf3 -P 4 ${lineUp.toFixed(0)} Mbit/s\n\n`);
  process.stdout.write(`| rate | netmeter down | iperf3 -R | ratio | netmeter up | iperf3 | ratio | netmeter idle ms | ping idle ms | netmeter loaded ↓ ms | ping during iperf3 -R ms | data used |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n`);
  for (const rate of rates) {
    shape(rate);
    const rows: Record<string, number>[] = [];
    for (let i = 0; i < runs; i++) {
      const down = await iperf3(true, true);
      const up = await iperf3(false);
      const n = netmeter();
      rows.push({ d: n.download?.mbps ?? NaN, u: n.upload?.mbps ?? NaN, id: down.mbps, iu: up.mbps, idle: n.idleLatency?.medianMs ?? NaN, loaded: n.download?.loadedLatency.medianMs ?? NaN, ping: down.pingMs, used: n.bytesUsed.total });
    }
    const m = (k: string) => median(rows.map((r) => r[k]!));
    const idle = pingMedian(inNs(C, 'ping', '-c', '10', '-i', '0.2', SERVER));
    process.stdout.write(`| ${rate} | ${m('d').toFixed(1)} | ${m('id').toFixed(1)} | ${(m('d') / m('id')).toFixed(3)} | ${m('u').toFixed(1)} | ${m('iu').toFixed(1)} | ${(m('u') / m('iu')).toFixed(3)} | ${m('idle').toFixed(2)} | ${idle.toFixed(2)} | ${m('loaded').toFixed(1)} | ${m('ping').toFixed(1)} | ${(m('used') / 1e6).toFixed(0)} MB |\n`);
  }
} finally {
  children.forEach((c) => c.kill());
  teardown();
}
