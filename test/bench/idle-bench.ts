// Idle benchmark: what a tool costs when nothing crosses the network — CPU per second, how
// often each of its threads wakes, and resident memory — for netmeter (`--jsonl`, the
// daemon, the Ink screen) and nethogs, in the same run.
//
// Setup (root only): a network namespace with lo and one veth end up with an address
// (198.18.9.1/24), its peer in a second namespace with nothing on it, IPv6 off: every
// interface is up and nothing crosses them. Each tool runs in the first namespace with its
// default interfaces. Process ends anywhere on the host still reach netmeter's kernel
// events (the kernel's tracepoints are not per namespace), so the host's fork rate in the
// window is reported beside the figures: a busy host makes an "idle" netmeter work.
//
// One run of one tool: start it, wait --startup (5 s), then read every thread's on-CPU time
// (/proc/PID/task/TID/schedstat) and context switches (voluntary + involuntary: each is a
// wake-up or a preemption) at the start and end of a --window (30 s), the resident memory
// (VmRSS) at the end and its peak (VmHWM). Threads are grouped by name: the event loop (the
// main thread), nm-capture, V8's and libuv's helpers, netmeter's /proc reader worker.
// Runs are interleaved (rep 1: every tool, rep 2: ...) and medians reported.
//
// Usage: npm run build && node dist/test/bench/idle-bench.js [--runs 3] [--window 30]
//        [--startup 5] [--tools jsonl,daemon,screen,nethogs] [--json FILE]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    window: { type: 'string', default: '30' },
    startup: { type: 'string', default: '5' },
    tools: { type: 'string', default: 'jsonl,daemon,screen,nethogs' },
    json: { type: 'string' },
  },
});
const runs = Number(values.runs);
const windowS = Number(values.window);
const startupS = Number(values.startup);

if (process.getuid?.() !== 0) {
  process.stderr.write('idle-bench: must run as root (it creates network namespaces and captures)\n');
  process.exit(1);
}

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// netmeter as `sudo netmeter` runs it: node with the options of the file's #! line.
const cliNodeOptions = /^#!.*\bnode((?: +-[^ ]+)*)\s*$/.exec(readFileSync(cli, 'utf8').split('\n', 1)[0]!)?.[1]!.trim().split(/ +/) ?? [];
const netmeter = [process.execPath, ...cliNodeOptions, cli];
const scratch = mkdtempSync(join(tmpdir(), 'netmeter-idle-'));

const tag = `nmi${process.pid}`;
const ns = `${tag}-a`;
const peerNs = `${tag}-b`;
const dev = `${tag}a`.slice(0, 15);
const peerDev = `${tag}b`.slice(0, 15);

interface Tool {
  name: string;
  command: string[];
}
const TOOLS: Record<string, Tool> = {
  jsonl: { name: 'netmeter --jsonl', command: [...netmeter, '--jsonl'] },
  daemon: { name: 'netmeter daemon', command: [...netmeter, 'daemon', '--db', join(scratch, 'idle.db'), '--config', join(scratch, 'none.json')] },
  // The Ink screen needs a terminal: script(1) gives it one (80x24), its output thrown away.
  screen: { name: 'netmeter (Ink screen)', command: ['script', '-qfec', `${netmeter.map((a) => `'${a}'`).join(' ')}`, '/dev/null'] },
  nethogs: { name: 'nethogs -t', command: ['nethogs', '-t', '-d', '1'] },
};
const tools = values.tools.split(',').map((name) => {
  const tool = TOOLS[name.trim()];
  if (!tool) throw new Error(`unknown tool '${name}' (${Object.keys(TOOLS).join(', ')})`);
  return tool;
});

const started = new Set<ChildProcess>();
function cleanup(): void {
  for (const child of started) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const name of [ns, peerNs]) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  rmSync(scratch, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

function sh(args: string[]): string {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

function setUpNetwork(): void {
  sh(['ip', 'netns', 'add', ns]);
  sh(['ip', 'netns', 'add', peerNs]);
  sh(['ip', 'link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', peerDev, 'netns', peerNs]);
  for (const [name, link] of [[ns, dev], [peerNs, peerDev]] as const) {
    sh(['ip', 'netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', name, 'link', 'set', link, 'up']);
  }
  sh(['ip', '-n', ns, 'addr', 'add', '198.18.9.1/24', 'dev', dev]);
  writeFileSync(join(scratch, 'none.json'), '{}\n');
}

// ---- Measuring ----------------------------------------------------------------------------

interface ThreadReading {
  group: string;
  cpuNs: number;
  switches: number;
}

/** The thread's group: what it is for, from its name (Node names few of its threads). */
function threadGroup(pid: number, tid: string, comm: string): string {
  if (tid === String(pid)) return 'event loop';
  if (comm === 'nm-capture') return 'capture';
  if (comm.startsWith('libuv-worker')) return 'libuv pool';
  return 'other threads';
}

/** Every thread of pid and its descendants: CPU ns and context switches, by thread id. */
function readThreads(root: number): Map<string, ThreadReading> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* ended meanwhile */
    }
  }
  const readings = new Map<string, ThreadReading>();
  const visit = (pid: number): void => {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      try {
        const base = `/proc/${pid}/task/${tid}`;
        const comm = readFileSync(`${base}/comm`, 'utf8').trim();
        const status = readFileSync(`${base}/status`, 'utf8');
        const switches = [...status.matchAll(/ctxt_switches:\s+(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
        const group = pid === root ? threadGroup(pid, tid, comm) : `child ${comm}`;
        readings.set(tid, { group, cpuNs: Number(readFileSync(`${base}/schedstat`, 'utf8').split(' ', 1)[0]), switches });
      } catch {
        /* ended meanwhile */
      }
    }
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return readings;
}

/** The process that is the tool: script(1)'s child for the screen, else the command itself. */
function toolPid(child: ChildProcess, tool: Tool): number {
  if (tool.command[0] !== 'script') return child.pid!;
  const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  if (kids.length !== 1) throw new Error(`script(1) has ${kids.length} children`);
  return Number(kids[0]);
}

function memoryKb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]), peak: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) };
}

/** Processes forked on the whole host so far (/proc/stat's "processes"). */
function hostForks(): number {
  return Number(/^processes (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
}

interface Sample {
  tool: string;
  rep: number;
  cpuMsPerSecond: number;
  wakeupsPerSecond: number;
  groups: Record<string, { cpuMsPerSecond: number; wakeupsPerSecond: number }>;
  rssMb: number;
  peakRssMb: number;
  hostForksPerSecond: number;
}

async function runOnce(tool: Tool, rep: number): Promise<Sample> {
  const child = spawn('ip', ['netns', 'exec', ns, ...tool.command], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  await sleep(startupS * 1000);
  if (child.exitCode !== null) throw new Error(`${tool.name} exited during start-up: ${stderr.trim()}`);
  const pid = toolPid(child, tool);
  const before = readThreads(pid);
  const forks0 = hostForks();
  const t0 = process.hrtime.bigint();
  await sleep(windowS * 1000);
  const after = readThreads(pid);
  const forks1 = hostForks();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const memory = memoryKb(pid);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid!, 'SIGINT');
  await Promise.race([exited, sleep(5000).then(() => process.kill(-child.pid!, 'SIGKILL'))]);
  started.delete(child);

  const groups: Sample['groups'] = {};
  let cpuNs = 0;
  let switches = 0;
  for (const [tid, end] of after) {
    const start = before.get(tid) ?? { cpuNs: 0, switches: 0 }; // a thread started in the window counts whole
    const group = (groups[end.group] ??= { cpuMsPerSecond: 0, wakeupsPerSecond: 0 });
    group.cpuMsPerSecond += (end.cpuNs - start.cpuNs) / 1e6 / seconds;
    group.wakeupsPerSecond += (end.switches - start.switches) / seconds;
    cpuNs += end.cpuNs - start.cpuNs;
    switches += end.switches - start.switches;
  }
  return {
    tool: tool.name,
    rep,
    cpuMsPerSecond: cpuNs / 1e6 / seconds,
    wakeupsPerSecond: switches / seconds,
    groups,
    rssMb: memory.rss / 1024,
    peakRssMb: memory.peak / 1024,
    hostForksPerSecond: (forks1 - forks0) / seconds,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

setUpNetwork();
process.stderr.write(`namespace ${ns}: lo and ${dev} (198.18.9.1/24) up, nothing crossing; ${runs} interleaved runs; start-up ${startupS} s, window ${windowS} s\n`);
const samples: Sample[] = [];
for (let rep = 1; rep <= runs; rep++) {
  for (const tool of tools) {
    const s = await runOnce(tool, rep);
    samples.push(s);
    const split = Object.entries(s.groups).map(([g, v]) => `${g} ${v.cpuMsPerSecond.toFixed(2)}/${v.wakeupsPerSecond.toFixed(1)}`).join(', ');
    process.stderr.write(
      `run ${rep} ${tool.name}: ${s.cpuMsPerSecond.toFixed(2)} ms CPU/s, ${s.wakeupsPerSecond.toFixed(1)} wake-ups/s (${split}), ` +
        `RSS ${s.rssMb.toFixed(1)} MB (peak ${s.peakRssMb.toFixed(1)}), host forks ${s.hostForksPerSecond.toFixed(1)}/s\n`,
    );
  }
}

const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const commit = spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
let out = `\n${new Date().toISOString().slice(0, 10)}, netmeter ${commit}; ${model}, ${sh(['nproc']).trim()} cores, kernel ${sh(['uname', '-r']).trim()}; node ${process.version}\n`;
out += `idle: every interface up, no traffic; CPU = on-CPU time of every thread (schedstat) over a ${windowS} s window after ${startupS} s; wake-ups = context switches; median of ${runs} interleaved runs\n\n`;
out += '| tool | CPU ms/s | wake-ups/s | by thread (ms/s / wake-ups/s) | RSS MB (peak) | host forks/s |\n|---|---:|---:|---|---:|---:|\n';
for (const tool of tools) {
  const mine = samples.filter((s) => s.tool === tool.name);
  const groupNames = [...new Set(mine.flatMap((s) => Object.keys(s.groups)))];
  const split = groupNames
    .map((g) => {
      const cpu = median(mine.map((s) => s.groups[g]?.cpuMsPerSecond ?? 0));
      const wakes = median(mine.map((s) => s.groups[g]?.wakeupsPerSecond ?? 0));
      return `${g} ${cpu.toFixed(2)} / ${wakes.toFixed(1)}`;
    })
    .join('; ');
  out +=
    `| ${tool.name} | ${median(mine.map((s) => s.cpuMsPerSecond)).toFixed(2)} | ${median(mine.map((s) => s.wakeupsPerSecond)).toFixed(1)} | ${split} | ` +
    `${median(mine.map((s) => s.rssMb)).toFixed(1)} (${median(mine.map((s) => s.peakRssMb)).toFixed(1)}) | ${median(mine.map((s) => s.hostForksPerSecond)).toFixed(1)} |\n`;
}
const reproduce = ['npm run build && node dist/test/bench/idle-bench.js'];
if (runs !== 3) reproduce.push(`--runs ${runs}`);
if (windowS !== 30) reproduce.push(`--window ${windowS}`);
if (startupS !== 5) reproduce.push(`--startup ${startupS}`);
if (values.tools !== 'jsonl,daemon,screen,nethogs') reproduce.push(`--tools ${values.tools}`);
out += `\nreproduce (as root): ${reproduce.join(' ')}\n`;
process.stdout.write(out);
if (values.json) writeFileSync(values.json, `${JSON.stringify(samples, null, 2)}\n`);
