// Shaped-link accuracy with delay: netmeter speedtest against iperf3 through `tc tbf` and a
// 40 ms round trip made by a delay line over two TUN devices (test/harness/delay-line.c,
// compiled here with cc; this kernel has no netem). Three namespaces: client (198.18.71.2)
// — router with the delay line — server (198.18.72.2); the router sends what arrives from
// either side into a TUN device, the line writes it out of the other one DELAY later. MTUs
// are 9000 (jumbo frames): light enough for the line to pass 600 Mbit/s, fine enough that
// 20 Mbit/s still carries a dozen packets per round trip.
//
// First it shows, with ping and iperf3, that the line alone adds the delay and carries
// 600 Mbit/s; then per rate and run: iperf3 -P 4 -O 3 -R and iperf3 -P 4 -O 3 (ping running
// during both: latency under load), then netmeter speedtest. Every involved process's CPU
// is sampled each second; a run where any sat above 70% of a core is void and repeated.
// Data used is set against what LibreSpeed's default settings would move at the same
// goodput (librespeedBytes). With --loss, the line drops packets and netmeter's UDP loss
// figure is compared with Debian's irtt. Needs root, iperf3, irtt, cc.
// Usage: node dist/test/bench/speedtest-delay-bench.js [--rates 20,100,500] [--runs 5] [--loss 1,5]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { SpeedtestResult } from '../../src/speedtest/result.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '20,100,500' },
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '8' },
    'delay-ms': { type: 'string', default: '20' },
    loss: { type: 'string', default: '' },
    'loss-runs': { type: 'string', default: '10' },
  },
});
const rates = values.rates ? values.rates.split(',').map(Number) : [];
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const oneWay = Number(values['delay-ms']);
const losses = values.loss ? values.loss.split(',').map(Number) : [];
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const udpProbe = fileURLToPath(new URL('../../src/speedtest/udp-probe.js', import.meta.url));
const lineSource = fileURLToPath(new URL('../../../test/harness/delay-line.c', import.meta.url));
const [C, M, S] = ['speeddC', 'speeddM', 'speeddS'];
const SERVER = '198.18.72.2';
const PORT = 18900;
const MTU = '9000';
const CPU_LIMIT = 70;
const MAX_ATTEMPTS = 3; // per wanted run, before giving up on a clean one

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
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill();
  return exited;
}

const work = mkdtempSync(join(tmpdir(), 'speedd-'));
const lineBinary = join(work, 'delay-line');
let line: ChildProcess | undefined;

/** (Re)starts the delay line with this loss (percent per direction) and routes through it. */
async function startLine(lossPercent: number): Promise<void> {
  if (line) {
    await stop(line);
    for (const table of ['101', '102']) spawnSync('ip', ['netns', 'exec', M, 'ip', 'rule', 'del', 'lookup', table]);
  }
  line = await start(M, [lineBinary, 'speeddA', 'speeddB', String(oneWay), String(lossPercent), '12345'], 'ready');
  for (const dev of ['speeddA', 'speeddB']) inNs(M, 'ip', 'link', 'set', dev, 'mtu', MTU, 'up');
  for (const k of ['all', 'default', 'speeddmc', 'speeddms', 'speeddA', 'speeddB']) inNs(M, 'sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`);
  // From the client side into A (the line writes it out of B, then on to the server), and back.
  inNs(M, 'ip', 'route', 'replace', 'default', 'dev', 'speeddA', 'table', '101');
  inNs(M, 'ip', 'route', 'replace', 'default', 'dev', 'speeddB', 'table', '102');
  inNs(M, 'ip', 'rule', 'add', 'iif', 'speeddmc', 'lookup', '101');
  inNs(M, 'ip', 'rule', 'add', 'iif', 'speeddms', 'lookup', '102');
}

async function setup(): Promise<void> {
  teardown();
  sh('cc', '-O2', '-Wall', '-o', lineBinary, lineSource);
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
  for (const [ns, dev] of [[C, 'speeddc0'], [S, 'speedds0'], [M, 'speeddmc'], [M, 'speeddms']] as const) inNs(ns, 'ip', 'link', 'set', dev, 'mtu', MTU, 'up');
  inNs(C, 'ip', 'route', 'add', 'default', 'via', '198.18.71.1');
  inNs(S, 'ip', 'route', 'add', 'default', 'via', '198.18.72.1');
  inNs(M, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  await startLine(0);
}

/** tbf on the server's egress (download) and the client's (upload); 0: none. */
function shape(mbit: number): void {
  for (const [ns, dev] of [[S, 'speedds0'], [C, 'speeddc0']] as const) {
    spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root']);
    // Burst: 4 ms at the rate, at least two jumbo frames.
    if (mbit > 0) inNs(ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', String(Math.max(20_000, Math.round((mbit * 1e6) / 8 * 0.004))), 'latency', '20ms');
  }
}

/** CPU time (user + system, clock ticks) of a process and its threads; undefined once gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  } catch {
    return undefined;
  }
}
const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Samples every second the CPU share of the given processes; stop() gives the highest one-second share seen per name. */
function watchCpu(processes: () => Record<string, number | undefined>): { stop: () => Record<string, number> } {
  const last = new Map<string, { ticks: number; at: number }>();
  const peak: Record<string, number> = {};
  const sample = () => {
    const at = performance.now();
    for (const [name, pid] of Object.entries(processes())) {
      const ticks = pid === undefined ? undefined : cpuTicks(pid);
      if (ticks === undefined) continue;
      const before = last.get(name);
      if (before && at > before.at) peak[name] = Math.max(peak[name] ?? 0, ((ticks - before.ticks) / TICKS_PER_SECOND / ((at - before.at) / 1000)) * 100);
      last.set(name, { ticks, at });
    }
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** Runs a command in the client's namespace, its CPU and the long-running processes' watched. */
async function measured(args: string[], others: Record<string, number | undefined>): Promise<{ stdout: string; cpu: Record<string, number> }> {
  const child = spawn('ip', ['netns', 'exec', C, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  const watch = watchCpu(() => ({ ...others, [args[0] === process.execPath ? 'netmeter client' : args[0]!]: child.pid }));
  // iperf3 sometimes hangs at 500 Mbit/s (its client spinning after the test): such a run is cut off and void.
  const deadline = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(deadline);
  return { stdout, cpu: watch.stop() };
}

function pingMedian(output: string): number {
  return median([...output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])));
}

async function iperf3(reverse: boolean, others: Record<string, number | undefined>): Promise<{ mbps: number; pingMs: number; cpu: Record<string, number> }> {
  const ping = spawn('ip', ['netns', 'exec', C, 'ping', '-i', '0.2', '-w', String(seconds + 10), SERVER], { stdio: ['ignore', 'pipe', 'ignore'] });
  let pingText = '';
  ping.stdout!.on('data', (d) => (pingText += d));
  const started = performance.now();
  const { stdout, cpu } = await measured(['iperf3', '-c', SERVER, '-p', String(PORT + 1), '-P', '4', '-O', '3', '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])], others);
  const took = performance.now() - started;
  await stop(ping);
  let mbps = NaN;
  try {
    mbps = (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6;
  } catch {
    // cut off or failed: the run is void (below)
  }
  // Round trips once iperf3's 3 omitted seconds are over, while it still ran (5 per second).
  const lines = pingText.split('\n').filter((l) => l.includes('time='));
  return { mbps, pingMs: pingMedian(lines.slice(3 * 5 + 1, Math.floor((took / 1000) * 5)).join('\n')), cpu };
}

async function netmeter(others: Record<string, number | undefined>): Promise<{ result: SpeedtestResult; cpu: Record<string, number> }> {
  const { stdout, cpu } = await measured([process.execPath, cli, 'speedtest', `http://${SERVER}:${PORT}/`, '--json'], others);
  try {
    return { result: JSON.parse(stdout) as SpeedtestResult, cpu };
  } catch {
    return { result: { status: 'failed', bytesUsed: { total: NaN } } as SpeedtestResult, cpu };
  }
}

/**
 * What LibreSpeed's default settings (speedtest_worker.js: time_dl_max and time_ul_max 15 s,
 * time_auto, time_dlGraceTime 1.5 s, time_ulGraceTime 3 s) move at these goodputs, taking
 * the rate as steady from the first second: all through the grace time, then until
 * t + bonus > 15 s, where every 200 ms tick adds min(800 ms, 6.4 × bytes per second / 100000)
 * of bonus; so a direction's counted time is 15 s / (1 + bonus per tick / 200 ms).
 */
export function librespeedBytes(downMbps: number, upMbps: number): number {
  const direction = (mbps: number, graceSeconds: number) => {
    const bytesPerSecond = (mbps * 1e6) / 8;
    const bonusPerTick = Math.min(800, (6.4 * bytesPerSecond) / 100_000);
    return bytesPerSecond * (graceSeconds + 15 / (1 + bonusPerTick / 200));
  };
  return direction(downMbps, 1.5) + direction(upMbps, 3);
}

function median(v: number[]): number {
  const s = v.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const hot = (cpu: Record<string, number>) => Object.entries(cpu).filter(([, share]) => share > CPU_LIMIT).map(([name, share]) => `${name} ${share.toFixed(0)}%`);
const fmt = (x: number, digits = 1) => (Number.isNaN(x) ? '–' : x.toFixed(digits));

async function lossComparison(others: () => Record<string, number | undefined>): Promise<void> {
  const irttServer = await start(S, ['irtt', 'server', '-b', `${SERVER}:2112`]);
  await new Promise((r) => setTimeout(r, 300));
  process.stdout.write(`\n| loss per direction | netmeter probes sent | netmeter lost | netmeter loss % | irtt packets | irtt round-trip loss % | irtt up / down % |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n`);
  for (const loss of losses) {
    await startLine(loss);
    // netmeter's probes as a speed test sends them (100, 10 ms apart), loss-runs times.
    let sent = 0;
    let received = 0;
    for (let i = 0; i < Number(values['loss-runs']); i++) {
      const script = `const { measurePacketLoss } = await import(${JSON.stringify(udpProbe)}); const r = await measurePacketLoss('${SERVER}', ${PORT}, { count: 100, intervalMs: 10, waitMs: 1000, family: 4 }); process.stdout.write(JSON.stringify(r));`;
      const { stdout } = await measured([process.execPath, '--input-type=module', '-e', script], others());
      const r = JSON.parse(stdout) as { sent: number; received: number };
      sent += r.sent;
      received += r.received;
    }
    // irtt: the same number of 32-byte probes at the same interval.
    const out = spawnSync('ip', ['netns', 'exec', C, 'irtt', 'client', '-Q', '-i', '10ms', '-d', `${Number(values['loss-runs'])}s`, '-l', '32', '-o', '-', SERVER], { encoding: 'utf8' });
    const stats = (JSON.parse(out.stdout) as { stats: { packets_sent: number; packet_loss_percent: number; upstream_loss_percent: number; downstream_loss_percent: number } }).stats;
    process.stdout.write(`| ${loss}% | ${sent} | ${sent - received} | ${fmt(((sent - received) / sent) * 100, 2)} | ${stats.packets_sent} | ${fmt(stats.packet_loss_percent, 2)} | ${fmt(stats.upstream_loss_percent, 2)} / ${fmt(stats.downstream_loss_percent, 2)} |\n`);
  }
  await stop(irttServer);
  await startLine(0);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    children.forEach((c) => c.kill());
    teardown();
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  });
}
try {
  process.stdout.write(`Load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  await setup();
  const server = await start(S, [process.execPath, cli, 'speedtest-server', '--listen', `${SERVER}:${PORT}`], 'listening');
  const iperfServer = await start(S, ['iperf3', '-s', '-p', String(PORT + 1)]);
  await new Promise((r) => setTimeout(r, 500));
  const others = () => ({ 'delay line': line?.pid, 'netmeter server': server.pid, 'iperf3 server': iperfServer.pid });
  shape(0);
  const idlePing = pingMedian(inNs(C, 'ping', '-c', '20', '-i', '0.2', SERVER));
  const lineDown = await iperf3(true, others());
  const lineUp = await iperf3(false, others());
  process.stdout.write(
    `The line alone (no tbf): ping median ${idlePing.toFixed(2)} ms (configured ${2 * oneWay} ms); iperf3 -P 4 -R ${lineDown.mbps.toFixed(0)} Mbit/s, iperf3 -P 4 ${lineUp.mbps.toFixed(0)} Mbit/s; ` +
      `busiest processes: ${Object.entries({ ...lineDown.cpu, ...lineUp.cpu }).map(([n, c]) => `${n} ${c.toFixed(0)}%`).join(', ')}\n\n`,
  );
  if (rates.length > 0) {
    process.stdout.write(
      `| rate | netmeter down | iperf3 -R | ratio | netmeter up | iperf3 | ratio | netmeter idle ms | ping idle ms | netmeter loaded ↓/↑ ms | ping during iperf3 -R / iperf3 ms | netmeter data | LibreSpeed data | share | void runs |\n` +
        `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n`,
    );
  }
  const details: string[] = [];
  for (const rate of rates) {
    shape(rate);
    const rows: Record<string, number>[] = [];
    let voided = 0;
    for (let attempt = 0; rows.length < runs && attempt < runs * MAX_ATTEMPTS; attempt++) {
      const down = await iperf3(true, others());
      const up = await iperf3(false, others());
      const n = await netmeter(others());
      const tooBusy = [...hot(down.cpu), ...hot(up.cpu), ...hot(n.cpu)];
      const r = n.result;
      details.push(`${rate} Mbit/s run ${attempt + 1}: netmeter ${fmt(r.download?.mbps ?? NaN)}/${fmt(r.upload?.mbps ?? NaN)} (${r.download?.stoppedBy}/${r.upload?.stoppedBy}), iperf3 ${fmt(down.mbps)}/${fmt(up.mbps)}${tooBusy.length ? `, VOID: ${tooBusy.join(', ')}` : ''}`);
      if (tooBusy.length > 0 || r.status !== 'complete' || Number.isNaN(down.mbps) || Number.isNaN(up.mbps)) {
        voided++;
        continue;
      }
      rows.push({
        d: r.download?.mbps ?? NaN,
        u: r.upload?.mbps ?? NaN,
        id: down.mbps,
        iu: up.mbps,
        idle: r.idleLatency?.medianMs ?? NaN,
        loadedD: r.download?.loadedLatency.medianMs ?? NaN,
        loadedU: r.upload?.loadedLatency.medianMs ?? NaN,
        pingD: down.pingMs,
        pingU: up.pingMs,
        used: r.bytesUsed.total,
        libre: librespeedBytes(down.mbps, up.mbps),
      });
    }
    const m = (k: string) => median(rows.map((r) => r[k]!));
    const idle = pingMedian(inNs(C, 'ping', '-c', '10', '-i', '0.2', SERVER));
    process.stdout.write(
      `| ${rate} | ${fmt(m('d'))} | ${fmt(m('id'))} | ${fmt(m('d') / m('id'), 3)} | ${fmt(m('u'))} | ${fmt(m('iu'))} | ${fmt(m('u') / m('iu'), 3)} | ${fmt(m('idle'), 2)} | ${fmt(idle, 2)} | ${fmt(m('loadedD'))}/${fmt(m('loadedU'))} | ${fmt(m('pingD'))}/${fmt(m('pingU'))} | ${fmt(m('used') / 1e6, 0)} MB | ${fmt(m('libre') / 1e6, 0)} MB | ${fmt(m('used') / m('libre'), 2)} | ${voided} |\n`,
    );
  }
  if (details.length > 0) process.stdout.write(`\n${details.join('\n')}\n`);
  if (losses.length > 0) {
    shape(0);
    await lossComparison(others);
  }
  process.stdout.write(`\nLoad average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
} finally {
  children.forEach((c) => c.kill());
  teardown();
  rmSync(work, { recursive: true, force: true });
}
