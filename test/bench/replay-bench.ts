// Replay benchmark: netmeter replay against tcpdump and tshark reading the same capture of
// 1,000,000 packets, in the same run. Reports wall and CPU time (median of the runs),
// packets per second and the ratio to each peer.
// Usage: npm run bench -- [--packets N] [--runs R] [--capture FILE]

import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeBenchCapture } from './make-bench-capture.js';

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    capture: { type: 'string' },
  },
});
const packets = Number(values.packets);
const runs = Number(values.runs);
const capture = values.capture ?? `/tmp/netmeter-bench-${packets}.pcap`;
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

if (!existsSync(capture)) {
  process.stdout.write(`writing ${capture} (${packets} packets)...\n`);
  await writeBenchCapture(capture, packets);
}

interface Tool {
  name: string;
  command: string;
}
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const tools: Tool[] = [
  { name: 'netmeter replay --json', command: `${quote(process.execPath)} ${quote(cli)} replay ${quote(capture)} --json` },
  { name: 'tcpdump -r -w /dev/null', command: `tcpdump -r ${quote(capture)} -w /dev/null` },
  { name: 'tshark -q -z conv,tcp,udp', command: `tshark -r ${quote(capture)} -q -z conv,tcp -z conv,udp` },
];

/** Runs a command under bash and reads back wall time and the children's CPU time. */
function measure(command: string): { wall: number; cpu: number } | undefined {
  const script = `start=$(date +%s.%N); ${command} >/dev/null 2>&1 || exit 97; end=$(date +%s.%N); echo "$start $end"; times`;
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  const lines = result.stdout.trim().split('\n');
  const [start, end] = lines[0]!.split(' ').map(Number);
  const children = lines[2]!.match(/(\d+)m([\d.]+)s/g)!.map((t) => {
    const [, m, s] = /(\d+)m([\d.]+)s/.exec(t)!;
    return Number(m) * 60 + Number(s);
  });
  return { wall: end! - start!, cpu: children[0]! + children[1]! };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Array<{ name: string; wall: number; cpu: number }> = [];
for (const tool of tools) {
  const samples: Array<{ wall: number; cpu: number }> = [];
  // The capture was just written or read, so every tool reads it from the page cache.
  for (let r = 0; r < runs; r++) {
    const m = measure(tool.command);
    if (!m) break;
    samples.push(m);
  }
  if (samples.length === 0) {
    process.stdout.write(`${tool.name}: not available, skipped\n`);
    continue;
  }
  results.push({ name: tool.name, wall: median(samples.map((s) => s.wall)), cpu: median(samples.map((s) => s.cpu)) });
}

const netmeter = results[0]!;
process.stdout.write(`\n${packets.toLocaleString('en')} packets, ${capture}, median of ${runs} runs\n\n`);
process.stdout.write('| tool | wall s | CPU s | packets/s (wall) | netmeter wall ÷ tool wall |\n|---|---:|---:|---:|---:|\n');
for (const r of results) {
  process.stdout.write(`| ${r.name} | ${r.wall.toFixed(3)} | ${r.cpu.toFixed(3)} | ${Math.round(packets / r.wall).toLocaleString('en')} | ${(netmeter.wall / r.wall).toFixed(2)} |\n`);
}
process.stdout.write(`\nreproduce: npm run bench -- --packets ${packets} --runs ${runs}\n`);
