// Loopback benchmark: is netmeter's speed test ever the bottleneck? netmeter speedtest
// against netmeter speedtest-server on 127.0.0.1, unshaped, beside iperf3 -P 4 -O 3 (upload,
// and -R for download) in the same run, alternating; medians of the runs, data used, and
// the machine (CPU model, kernel, load average before and after).
// Usage: node dist/test/bench/speedtest-bench.js [--runs N] [--seconds S]

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { SpeedtestResult } from '../../src/speedtest/result.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '8' }, port: { type: 'string', default: '18700' } } });
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const port = Number(values.port);
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const server = spawn(process.execPath, [cli, 'speedtest-server', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
const iperf = spawn('iperf3', ['-s', '-p', String(port + 1)], { stdio: 'ignore' });
await new Promise<void>((resolve) => server.stdout!.on('data', (d: Buffer) => (d.toString().includes('listening') ? resolve() : undefined)));
await new Promise((r) => setTimeout(r, 500));

function iperf3(reverse: boolean): number {
  const args = ['-c', '127.0.0.1', '-p', String(port + 1), '-P', '4', '-O', '3', '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])];
  const out = spawnSync('iperf3', args, { encoding: 'utf8' });
  const doc = JSON.parse(out.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
  return doc.end.sum_received.bits_per_second / 1e6;
}

function netmeter(): SpeedtestResult {
  const out = spawnSync(process.execPath, [cli, 'speedtest', `http://127.0.0.1:${port}/`, '--json', '--max-time', `${seconds}s`], { encoding: 'utf8' });
  return JSON.parse(out.stdout) as SpeedtestResult;
}

const rows: { down: number; up: number; iperfDown: number; iperfUp: number; used: number; stopped: string }[] = [];
const loadBefore = loadavg()[0]!;
for (let i = 0; i < runs; i++) {
  const iperfDown = iperf3(true);
  const iperfUp = iperf3(false);
  const r = netmeter();
  rows.push({ down: r.download?.mbps ?? NaN, up: r.upload?.mbps ?? NaN, iperfDown, iperfUp, used: r.bytesUsed.total, stopped: `${r.download?.stoppedBy}/${r.upload?.stoppedBy}` });
  process.stdout.write(`run ${i + 1}: netmeter down ${rows[i]!.down.toFixed(0)} up ${rows[i]!.up.toFixed(0)} Mbit/s (${(r.bytesUsed.total / 1e9).toFixed(2)} GB, ${rows[i]!.stopped}); iperf3 -R ${iperfDown.toFixed(0)}, iperf3 ${iperfUp.toFixed(0)} Mbit/s\n`);
}
const loadAfter = loadavg()[0]!;
server.kill('SIGTERM');
iperf.kill('SIGTERM');

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const cpu = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'))?.split(':')[1]?.trim() ?? 'unknown';
const cores = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
process.stdout.write(`\n| | download Mbit/s | upload Mbit/s |\n| --- | ---: | ---: |\n`);
process.stdout.write(`| netmeter speedtest (median of ${runs}) | ${median(rows.map((r) => r.down)).toFixed(0)} | ${median(rows.map((r) => r.up)).toFixed(0)} |\n`);
process.stdout.write(`| iperf3 -P 4 -O 3 -t ${seconds} (median of ${runs}) | ${median(rows.map((r) => r.iperfDown)).toFixed(0)} | ${median(rows.map((r) => r.iperfUp)).toFixed(0)} |\n`);
process.stdout.write(`\nCPU: ${cpu} (${cores} cores); kernel ${kernel}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; netmeter data used per test (median): ${(median(rows.map((r) => r.used)) / 1e9).toFixed(2)} GB\n`);
