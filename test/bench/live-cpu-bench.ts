// Live-capture benchmark: CPU time per packet, and packets lost, at a fixed packet rate, for
// netmeter (live, -i IF), `nethogs -a -t -C IF` and `tcpdump -i IF -w /dev/null`, in the
// same run, with the same traffic.
//
// Setup (root only): two network namespaces joined by a veth pair, 198.18.0.1/24 on the
// sending end and 198.18.0.2/24 on the receiving end (IPv6 off, so nothing else crosses it).
// `tcpreplay --pps=N` injects small UDP packets (60-byte frames, 198.18.0.1 → 198.18.0.2, 4
// source and 8 destination ports) on the sending end; each tool captures, one at a time,
// on the receiving end inside its namespace. No traffic leaves the two namespaces. A perl
// one-liner holds UDP sockets on the 8 destination ports without reading them, so the
// traffic has an owning process (--unowned: no such process; netmeter then keeps
// re-reading /proc looking for the owner, which costs it CPU of its own).
// --workload loopback: the same frames addressed 127.0.0.1 → 127.0.0.1 (all-zero MACs),
// injected by tcpreplay on lo inside the receiving namespace, where each tool captures lo;
// no process holds the ports (the kernel answers some with ICMP, which the tools see too).
//
// One run of one tool: start it, wait for its start-up (--startup, 2 s), start the traffic,
// wait --settle (1 s), then read the CPU time (each thread's on-CPU nanoseconds from
// /proc/PID/task/TID/schedstat, summed over the tool's whole process tree: cap's capture
// child included) at the start and end of a --window (10 s); netmeter's share is also split
// into its event loop, its capture threads and the rest of its threads. CPU ns per packet = ΔCPU / packets that crossed the interface
// in the window (the interface's own counter). With --steady S, a second window of S seconds
// starts --steady-after (10) seconds after the traffic: a user sees both the first seconds
// and the long run, so both are reported. Then the traffic stops, the tool is stopped with
// SIGINT, and what it counted is compared with what crossed the interface during its life.
// Also reported: how often the tool's main threads went to sleep per packet (voluntary
// context switches), tcpreplay's CPU and the rest of the machine's load in the window
// (this host is shared: a busy one distorts the run).
// Runs are interleaved (rep 1: every rate × tool, rep 2: ...) and the median is reported.
//
// Usage: npm run build && node dist/test/bench/live-cpu-bench.js [--rates 100000,300000,max]
//        [--runs 3] [--window 10] [--startup 2] [--settle 1]
//        [--tools netmeter-native,netmeter-cap,netmeter-no-resolve,nethogs,tcpdump] (netmeter = the default engine;
//        netmeter[--a-node-flag] adds node options)
//        [--pps-multi M] [--unowned] [--no-baseline] [--workload veth|loopback] [--steady 60 [--steady-after 10]]
//        [--json FILE]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    window: { type: 'string', default: '10' },
    startup: { type: 'string', default: '2' },
    settle: { type: 'string', default: '1' },
    tools: { type: 'string', default: 'netmeter,nethogs,tcpdump' },
    'pps-multi': { type: 'string' },
    unowned: { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
    workload: { type: 'string', default: 'veth' },
    steady: { type: 'string', default: '0' },
    'steady-after': { type: 'string', default: '10' },
    json: { type: 'string' },
  },
});
const rates = values.rates.split(',').map((r) => r.trim().toLowerCase());
for (const r of rates) if (r !== 'max' && !(Number(r) > 0)) throw new Error(`bad rate '${r}' (a number of packets/s, or max)`);
const runs = Number(values.runs);
const windowS = Number(values.window);
const startupS = Number(values.startup);
const settleS = Number(values.settle);
const toolNames = values.tools.split(',').map((t) => t.trim());
const ppsMulti = values['pps-multi'];
const loopback = values.workload === 'loopback';
if (!loopback && values.workload !== 'veth') throw new Error(`bad workload '${values.workload}' (veth or loopback)`);
// Nothing holds 127.0.0.1's ports in the namespace: loopback traffic is always unowned.
const unowned = values.unowned || loopback;
const steadyS = Number(values.steady);
const steadyAfterS = Number(values['steady-after']);
if (steadyS > 0 && steadyAfterS < settleS + windowS) throw new Error('--steady-after must be at least --settle + --window');
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// netmeter as `sudo netmeter` runs it: node with the options of the file's #! line.
const cliNodeOptions = /^#!.*\bnode((?: +-[^ ]+)*)\s*$/.exec(readFileSync(cli, 'utf8').split('\n', 1)[0]!)?.[1]!.trim().split(/ +/) ?? [];

if (process.getuid?.() !== 0) {
  process.stderr.write('live-cpu-bench: must run as root (it creates network namespaces and captures)\n');
  process.exit(1);
}
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
for (const needed of ['ip', 'tcpreplay', ...(unowned ? [] : ['perl'])]) {
  if (!have(needed)) {
    process.stderr.write(`live-cpu-bench: '${needed}' is required (apt-get install -y iproute2 tcpreplay)\n`);
    process.exit(1);
  }
}

// ---- Names, clean-up ----------------------------------------------------------------------

const tag = `nmb${process.pid}`;
const nsTx = `${tag}-tx`;
const nsRx = `${tag}-rx`;
const ifTx = `${tag}a`.slice(0, 15);
const ifRx = `${tag}b`.slice(0, 15);
/** Where the tools capture and the traffic is counted: the receiving veth, or lo. */
const captureIf = loopback ? 'lo' : ifRx;
const pcapPath = `/tmp/${tag}-udp60.pcap`;
const VETH_MAC_TX = [0x02, 0, 0, 0, 0, 0x01];
const VETH_MAC_RX = [0x02, 0, 0, 0, 0, 0x02];
// lo's address is all zeros: a frame to it is the host's.
const MAC_TX = loopback ? [0, 0, 0, 0, 0, 0] : VETH_MAC_TX;
const MAC_RX = loopback ? [0, 0, 0, 0, 0, 0] : VETH_MAC_RX;

const started = new Set<ChildProcess>();
let cleanedUp = false;
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const child of started) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    // Every child was started in its own process group: end the group (netmeter's capture
    // child included), by its id.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  // Deleting a namespace deletes the veth end inside it, and with it the pair.
  for (const ns of [nsTx, nsRx]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  rmSync(pcapPath, { force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nlive-cpu-bench: ${signal}, cleaning up\n`);
    cleanup();
    process.exit(130);
  });
}
process.on('uncaughtException', (error) => {
  process.stderr.write(`live-cpu-bench: ${error.stack ?? error}\n`);
  cleanup();
  process.exit(1);
});
process.on('unhandledRejection', (error) => {
  process.stderr.write(`live-cpu-bench: ${(error as Error)?.stack ?? error}\n`);
  cleanup();
  process.exit(1);
});

function sh(args: string[]): string {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Starts a process in its own process group, remembered for clean-up. */
function start(args: string[], stdout: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: ['ignore', stdout, 'pipe'] });
  started.add(child);
  child.on('exit', () => started.delete(child));
  return child;
}

function collect(stream: NodeJS.ReadableStream | null | undefined): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > 1 << 20) text = text.slice(-(1 << 19)); // nethogs prints forever
  });
  return () => text;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGINT, then SIGTERM, then SIGKILL (the group) if the process does not end in time. */
async function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  const done = exited(child);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    if (await Promise.race([done.then(() => true), sleep(graceMs).then(() => false)])) return;
  }
  if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  await done;
}

// ---- Network namespaces and the capture file ----------------------------------------------

function setUpNetwork(): void {
  sh(['ip', 'netns', 'add', nsTx]);
  sh(['ip', 'netns', 'add', nsRx]);
  sh(['ip', 'link', 'add', ifTx, 'netns', nsTx, 'type', 'veth', 'peer', 'name', ifRx, 'netns', nsRx]);
  const macs: Array<[string, string, number[], string]> = [
    [nsTx, ifTx, VETH_MAC_TX, '198.18.0.1/24'],
    [nsRx, ifRx, VETH_MAC_RX, '198.18.0.2/24'],
  ];
  for (const [ns, dev, mac, address] of macs) {
    sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'address', mac.map((b) => b.toString(16).padStart(2, '0')).join(':')]);
    sh(['ip', '-n', ns, 'addr', 'add', address, 'dev', dev]);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
  }
}

function checksum(bytes: Buffer, start: number, end: number, sum = 0): number {
  for (let i = start; i < end; i += 2) sum += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** 1024 Ethernet/IPv4/UDP frames of 60 bytes (18 payload bytes), 198.18.0.1 → 198.18.0.2 (or 127.0.0.1 → 127.0.0.1). */
function writeUdpCapture(path: string): number {
  const frames = 1024;
  const payload = 18;
  const src = loopback ? [127, 0, 0, 1] : [198, 18, 0, 1];
  const dst = loopback ? [127, 0, 0, 1] : [198, 18, 0, 2];
  const parts: Buffer[] = [];
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  parts.push(header);
  for (let i = 0; i < frames; i++) {
    const frame = Buffer.alloc(14 + 20 + 8 + payload);
    Buffer.from([...MAC_RX, ...MAC_TX, 0x08, 0x00]).copy(frame, 0);
    const ip = 14;
    frame[ip] = 0x45;
    frame.writeUInt16BE(20 + 8 + payload, ip + 2);
    frame.writeUInt16BE(i, ip + 4);
    frame[ip + 8] = 64;
    frame[ip + 9] = 17;
    Buffer.from([...src, ...dst]).copy(frame, ip + 12);
    frame.writeUInt16BE(~checksum(frame, ip, ip + 20) & 0xffff, ip + 10);
    const udp = ip + 20;
    frame.writeUInt16BE(40000 + (i % 4), udp);
    frame.writeUInt16BE(5001 + (i % 8), udp + 2);
    frame.writeUInt16BE(8 + payload, udp + 4);
    for (let j = 0; j < payload; j++) frame[udp + 8 + j] = 0x61 + (j % 26);
    const pseudo = checksum(Buffer.from([...src, ...dst, 0, 17, 0, 8 + payload]), 0, 12);
    frame.writeUInt16BE(~checksum(frame, udp, udp + 8 + payload, pseudo) & 0xffff || 0xffff, udp + 6);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(1_700_000_000, 0);
    record.writeUInt32LE(i * 10, 4);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    parts.push(record, frame);
  }
  writeFileSync(path, Buffer.concat(parts));
  return frames;
}

// ---- Measuring ----------------------------------------------------------------------------

const clockTicks = Number(sh(['getconf', 'CLK_TCK']).trim()) || 100;

/** CPU time of one task (thread), ns, from its schedstat (exact, unlike the stat file's ticks). */
function taskCpuNs(pid: string, tid: string): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
  } catch {
    return 0; // ended meanwhile
  }
}

type CpuReading = { ns: number; rootNs: number; rootThreads: ThreadSplit; rootThreadWakeups: ThreadSplit; processes: number; wakeups: number };

/**
 * CPU time (ns) of a process tree, from each thread's schedstat, and the root process's own
 * split: its main thread (the event loop), netmeter's capture threads (named nm-capture)
 * and the rest of its threads (V8's GC helpers, libuv's pool, worker threads such as
 * netmeter's /proc reader). Every thread ever seen counts with what it had used when last
 * seen, so a thread that ends (netmeter's /proc reader after a quiet while) does not take
 * its CPU out of the sum: read() is called every SAMPLE_MS while the tool runs, so at most
 * that much of an ending thread's time is missed.
 */
class TreeCpu {
  private readonly threads = new Map<string, { ns: number; sleeps: number; part: keyof ThreadSplit | 'descendant'; mainOf: boolean }>();
  private processes = 0;
  constructor(private readonly root: number) {}

  read(): CpuReading {
    const tree = processTree(this.root);
    this.processes = 0;
    for (const pid of tree) {
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // exited
      }
      this.processes++;
      for (const tid of tids) {
        const ns = taskCpuNs(String(pid), tid);
        if (ns === 0) continue; // ended meanwhile: keep its last reading
        const known = this.threads.get(`${pid}/${tid}`);
        const part = known?.part ?? (pid !== this.root ? 'descendant' : tid === String(pid) ? 'main' : threadName(pid, tid) === 'nm-capture' ? 'capture' : 'other');
        this.threads.set(`${pid}/${tid}`, { ns, sleeps: taskSleeps(pid, tid), part, mainOf: tid === String(pid) });
      }
    }
    const reading: CpuReading = { ns: 0, rootNs: 0, rootThreads: { main: 0, capture: 0, other: 0 }, rootThreadWakeups: { main: 0, capture: 0, other: 0 }, processes: this.processes, wakeups: 0 };
    for (const thread of this.threads.values()) {
      reading.ns += thread.ns;
      // Voluntary switches of each process's main thread (the event loop): how often it went to sleep.
      if (thread.mainOf) reading.wakeups += thread.sleeps;
      if (thread.part === 'descendant') continue;
      reading.rootNs += thread.ns;
      reading.rootThreads[thread.part] += thread.ns;
      reading.rootThreadWakeups[thread.part] += thread.sleeps;
    }
    return reading;
  }
}

/** How often a running tool's threads are read (TreeCpu). */
const SAMPLE_MS = 250;

/** pid and every live descendant. */
function processTree(root: number): Set<number> {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // comm may hold spaces
    parent.set(Number(name), Number(fields[1]));
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return tree;
}

interface ThreadSplit {
  main: number;
  capture: number;
  other: number;
}

function taskSleeps(pid: number, tid: string): number {
  try {
    return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0; // ended meanwhile
  }
}

function threadName(pid: number, tid: string): string {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Busy time of the whole machine (ns): every /proc/stat state but idle, iowait and steal. */
function systemBusyNs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq (steal is another guest's; guest time is in user)
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]!;
  return (busy * 1e9) / clockTicks;
}

/** Packets that crossed the capture interface (rx, tx), read inside its namespace; lo counts each packet once, as rx. */
let probePid = 0;
function interfacePackets(): { rx: number; tx: number } {
  const dev = readFileSync(`/proc/${probePid}/net/dev`, 'utf8');
  const line = dev.split('\n').find((l) => l.trim().startsWith(`${captureIf}:`));
  if (!line) throw new Error(`${captureIf} not in /proc/${probePid}/net/dev`);
  const f = line.split(':')[1]!.trim().split(/\s+/).map(Number);
  return { rx: f[1]!, tx: loopback ? 0 : f[9]! };
}

interface Tool {
  name: string;
  /** Nothing for the baseline: the traffic alone. */
  command?: string[];
  /** Packets the tool says it captured, and what it says it dropped, from its output. */
  counts(stdout: string, stderr: string): { counted?: number; dropped?: number; note?: string };
}

const BASELINE = '(no capture: traffic only)';
// The traffic alone, first in each round: what the sender reaches with no tool (--no-baseline: skipped).
const tools: Tool[] = values['no-baseline'] ? [] : [{ name: BASELINE, counts: () => ({}) }];
for (const spec of toolNames) {
  // "netmeter[--flag --other]": the same tool with more node options, to compare V8 settings in one run.
  const [, name = spec, nodeFlags = ''] = /^([^[]+)\[(.*)\]$/.exec(spec) ?? [];
  const extraNodeOptions = nodeFlags.split(/\s+/).filter(Boolean);
  // netmeter once per capture engine: "netmeter" is the default engine, "netmeter-cap" and
  // "netmeter-native" name one; "netmeter-no-resolve" is the default without host names
  // (no second capture for DNS answers, no reverse lookups).
  if (name === 'netmeter' || name === 'netmeter-native' || name === 'netmeter-cap' || name === 'netmeter-no-resolve') {
    const engine = name === 'netmeter' ? [] : name === 'netmeter-no-resolve' ? ['--no-resolve'] : ['--engine', name.slice('netmeter-'.length)];
    tools.push({
      name: `netmeter -i IF --json${engine.length ? ` ${engine.join(' ')}` : ''}${extraNodeOptions.length ? ` (node ${extraNodeOptions.join(' ')})` : ''}`,
      // --duration is an upper bound: the bench stops it with SIGINT, after which it prints
      // the totals over the whole run.
      command: [process.execPath, ...cliNodeOptions, ...extraNodeOptions, cli, '-i', captureIf, '--duration', '600s', '--json', ...engine],
      counts(stdout) {
        const start = stdout.indexOf('{');
        if (start < 0) return { note: 'no JSON output' };
        const report = JSON.parse(stdout.slice(start)) as { totals: { packets: number }; interfaces?: Array<{ droppedPackets?: number }> };
        const dropped = (report.interfaces ?? []).reduce((n, i) => n + (i.droppedPackets ?? 0), 0);
        return { counted: report.totals.packets, dropped };
      },
    });
  } else if (name === 'nethogs') {
    if (!have('nethogs')) {
      process.stderr.write('nethogs not installed: skipped\n');
      continue;
    }
    tools.push({
      name: 'nethogs -a -t -C IF',
      command: ['nethogs', '-a', '-t', '-C', captureIf],
      counts: () => ({ note: 'does not report packet counts' }),
    });
  } else if (name === 'tcpdump') {
    if (!have('tcpdump')) {
      process.stderr.write('tcpdump not installed: skipped\n');
      continue;
    }
    tools.push({
      name: 'tcpdump -i IF -w /dev/null',
      command: ['tcpdump', '-n', '-i', captureIf, '-w', '/dev/null'],
      counts(_stdout, stderr) {
        const captured = /(\d+) packets? captured/.exec(stderr)?.[1];
        const dropped = /(\d+) packets? dropped by kernel/.exec(stderr)?.[1];
        if (captured === undefined) return { note: 'no statistics printed' };
        return { counted: Number(captured), dropped: Number(dropped ?? 0) };
      },
    });
  } else {
    throw new Error(`unknown tool '${name}' (netmeter, netmeter-native, netmeter-cap, netmeter-no-resolve, nethogs, tcpdump)`);
  }
}

/** start: the --window after --settle; steady: the --steady window after --steady-after. */
type WindowName = 'start' | 'steady';

interface Sample {
  tool: string;
  rate: string;
  rep: number;
  window: WindowName;
  windowSeconds: number;
  windowPackets: number;
  achievedPps: number;
  cpuNsPerPacket: number;
  /** The tool's main process alone; the rest of cpuNsPerPacket is its descendants'. */
  mainCpuNsPerPacket: number;
  /** The main process's CPU per packet by thread (see TreeCpu). */
  threadsNsPerPacket: ThreadSplit;
  cpuPercent: number;
  /** Times the main threads of the tool's processes went to sleep, per packet. */
  wakeupsPerPacket: number;
  /** netmeter: how often each part of it went to sleep, per second of the window. */
  threadWakeupsPerSecond: ThreadSplit;
  /** Busy CPU of the whole machine (every process, kernel, softirq) per packet. */
  systemNsPerPacket: number;
  /** tcpreplay's CPU in the window, % of one core (the kernel's receive path runs in it). */
  senderPercent: number;
  /** The rest of the machine's busy time in the window, % of one core: other work on this shared host. */
  otherPercent: number;
  processes: number;
  tcpreplaySent?: number;
  tcpreplayPps?: number;
  tcpreplayFailed?: number;
  crossed: number;
  counted?: number;
  lost?: number;
  toolDropped?: number;
  note?: string;
}

/** What the window's edges read: the tool's CPU, the sender's, the machine's, the interface's counters. */
interface Reading {
  cpu: CpuReading;
  sender: number;
  system: number;
  packets: number;
  at: bigint;
}

/** One run of one tool: a sample for each window (start-up, and steady when --steady is given). */
async function runOnce(tool: Tool, rate: string, rep: number): Promise<Sample[]> {
  const before = interfacePackets();
  const child = tool.command ? start(['ip', 'netns', 'exec', nsRx, ...tool.command]) : undefined;
  const stdout = collect(child?.stdout);
  const stderr = collect(child?.stderr);
  const pid = child?.pid ?? 0; // `ip netns exec` execs the command: same pid
  const toolCpu = child ? new TreeCpu(pid) : undefined;
  const cpuOf = (): CpuReading => toolCpu?.read() ?? { ns: 0, rootNs: 0, rootThreads: { main: 0, capture: 0, other: 0 }, rootThreadWakeups: { main: 0, capture: 0, other: 0 }, processes: 0, wakeups: 0 };
  const sampler = setInterval(cpuOf, SAMPLE_MS);
  await sleep(startupS * 1000);
  if (child && child.exitCode !== null) throw new Error(`${tool.name} exited during start-up: ${stderr().trim()}`);

  const trafficSeconds = Math.ceil(steadyS > 0 ? steadyAfterS + steadyS + 1 : settleS + windowS + 1);
  const replayArgs = ['ip', 'netns', 'exec', loopback ? nsRx : nsTx, 'tcpreplay', '-K', '--loop=0', `--duration=${trafficSeconds}`, '-i', loopback ? 'lo' : ifTx];
  if (rate === 'max') replayArgs.push('--topspeed');
  else replayArgs.push(`--pps=${rate}`, ...(ppsMulti ? [`--pps-multi=${ppsMulti}`] : []));
  const replay = start([...replayArgs, pcapPath]);
  const replayOut = collect(replay.stdout);
  const replayErr = collect(replay.stderr);
  const trafficStart = process.hrtime.bigint();
  const senderCpu = new TreeCpu(replay.pid!);
  const read = (): Reading => ({ cpu: cpuOf(), sender: senderCpu.read().ns, system: systemBusyNs(), packets: interfacePackets().rx, at: process.hrtime.bigint() });
  /** Waits until this many seconds after the traffic started. */
  const until = (seconds: number) => sleep(Math.max(0, seconds * 1000 - Number(process.hrtime.bigint() - trafficStart) / 1e6));

  await until(settleS);
  const windows: Array<{ name: WindowName; from: Reading; to: Reading }> = [];
  const startFrom = read();
  await until(settleS + windowS);
  windows.push({ name: 'start', from: startFrom, to: read() });
  if (steadyS > 0) {
    await until(steadyAfterS);
    const steadyFrom = read();
    await until(steadyAfterS + steadyS);
    windows.push({ name: 'steady', from: steadyFrom, to: read() });
  }
  const alive = !child || child.exitCode === null;
  clearInterval(sampler);

  await exited(replay);
  await sleep(1000); // let the tool drain what it already has
  if (child) await stop(child);
  await sleep(200);
  const after = interfacePackets();

  const replayText = replayOut() + replayErr();
  const sent = /Actual: (\d+) packets/.exec(replayText)?.[1];
  const replayPps = /Rated: .*?([\d.]+) pps/.exec(replayText)?.[1];
  const failed = /Failed packets:\s+(\d+)/.exec(replayText)?.[1];
  if (sent === undefined) throw new Error(`tcpreplay gave no summary: ${replayText.trim()}`);
  const crossed = after.rx - before.rx + (after.tx - before.tx);
  let counts: ReturnType<Tool['counts']>;
  try {
    counts = tool.counts(stdout(), stderr());
  } catch (error) {
    counts = { note: `unreadable output: ${(error as Error).message}` };
  }
  return windows.map(({ name, from, to }) => {
    const seconds = Number(to.at - from.at) / 1e9;
    const windowPackets = to.packets - from.packets;
    const cpuNs = to.cpu.ns - from.cpu.ns;
    const senderNs = to.sender - from.sender;
    const sample: Sample = {
      tool: tool.name,
      rate,
      rep,
      window: name,
      windowSeconds: seconds,
      windowPackets,
      achievedPps: windowPackets / seconds,
      cpuNsPerPacket: cpuNs / windowPackets,
      mainCpuNsPerPacket: (to.cpu.rootNs - from.cpu.rootNs) / windowPackets,
      threadsNsPerPacket: {
        main: (to.cpu.rootThreads.main - from.cpu.rootThreads.main) / windowPackets,
        capture: (to.cpu.rootThreads.capture - from.cpu.rootThreads.capture) / windowPackets,
        other: (to.cpu.rootThreads.other - from.cpu.rootThreads.other) / windowPackets,
      },
      cpuPercent: (cpuNs / 1e9 / seconds) * 100,
      wakeupsPerPacket: (to.cpu.wakeups - from.cpu.wakeups) / windowPackets,
      threadWakeupsPerSecond: {
        main: (to.cpu.rootThreadWakeups.main - from.cpu.rootThreadWakeups.main) / seconds,
        capture: (to.cpu.rootThreadWakeups.capture - from.cpu.rootThreadWakeups.capture) / seconds,
        other: (to.cpu.rootThreadWakeups.other - from.cpu.rootThreadWakeups.other) / seconds,
      },
      systemNsPerPacket: (to.system - from.system) / windowPackets,
      senderPercent: (senderNs / 1e9 / seconds) * 100,
      // Tick-based accounting can make this slightly negative on an idle machine.
      otherPercent: Math.max(0, ((to.system - from.system - cpuNs - senderNs) / 1e9 / seconds) * 100),
      processes: to.cpu.processes,
      tcpreplaySent: Number(sent),
      crossed,
      ...(replayPps !== undefined ? { tcpreplayPps: Number(replayPps) } : {}),
      ...(failed !== undefined ? { tcpreplayFailed: Number(failed) } : {}),
      ...(counts.counted !== undefined ? { counted: counts.counted, lost: crossed - counts.counted } : {}),
      ...(counts.dropped !== undefined ? { toolDropped: counts.dropped } : {}),
      ...(counts.note !== undefined ? { note: counts.note } : {}),
    };
    if (!alive) sample.note = `${sample.note ? `${sample.note}; ` : ''}exited during the window`;
    return sample;
  });
}

// ---- Main ---------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const int = (n: number) => Math.round(n).toLocaleString('en');
/** ", event loop M + capture C + other threads O" where the tool has netmeter's capture thread, else "". */
const threadSplitText = (t: ThreadSplit) =>
  t.capture > 0 ? `, event loop ${int(t.main)} + capture ${int(t.capture)} + other threads ${int(t.other)}` : '';
/** "event loop / capture / other" wake-ups per second, for netmeter (which has capture threads). */
const wakeupsText = (t: ThreadSplit) => `${int(t.main)} / ${int(t.capture)} / ${int(t.other)}`;

setUpNetwork();
const framesInFile = writeUdpCapture(pcapPath);
const probe = start(['ip', 'netns', 'exec', nsRx, 'sleep', '1000000'], 'ignore');
if (!unowned) {
  // A process that holds UDP sockets on the destination ports and never reads them: the
  // packets have an owner to attribute them to (as real traffic has), the kernel drops them
  // when the socket buffer is full (no ICMP), and nobody spends CPU receiving them.
  const sink = start([
    'ip', 'netns', 'exec', nsRx, 'perl', '-MIO::Socket::INET', '-e',
    '$0 = "udp-sink"; my @s = map { IO::Socket::INET->new(Proto => "udp", LocalAddr => "198.18.0.2", LocalPort => $_) or die "bind $_: $!\\n" } 5001 .. 5008; sleep 1e9',
  ], 'ignore');
  const sinkErr = collect(sink.stderr);
  await sleep(300);
  if (sink.exitCode !== null) throw new Error(`UDP sink failed: ${sinkErr()}`);
}
probePid = probe.pid!;
await sleep(300);
interfacePackets(); // fails early if the probe cannot see the interface

process.stderr.write(
  (loopback
    ? `lo in ns ${nsRx}, 127.0.0.1 → 127.0.0.1; ${framesInFile} UDP frames of 60 bytes looped by tcpreplay on lo\n`
    : `veth ${ifTx} (ns ${nsTx}, 198.18.0.1) → ${ifRx} (ns ${nsRx}, 198.18.0.2); ${framesInFile} UDP frames of 60 bytes looped by tcpreplay\n`) +
    `rates ${rates.join(', ')}; ${runs} interleaved runs; start-up ${startupS} s, settle ${settleS} s, window ${windowS} s; ` +
    `${unowned ? 'no socket on the destination ports (unowned traffic)' : 'destination ports held by a UDP sink process that never reads'}\n`,
);

const samples: Sample[] = [];
for (let rep = 1; rep <= runs; rep++) {
  for (const rate of rates) {
    for (const tool of tools) {
      for (const s of await runOnce(tool, rate, rep)) {
        samples.push(s);
        process.stderr.write(
          `run ${rep} ${rate} ${tool.name} (${s.window} window): ${int(s.achievedPps)} pkt/s in window, ${s.cpuNsPerPacket.toFixed(0)} ns/pkt ` +
            `(main process ${s.mainCpuNsPerPacket.toFixed(0)}${threadSplitText(s.threadsNsPerPacket)}), ${s.cpuPercent.toFixed(1)} % CPU (${s.processes} proc), ` +
            `${s.wakeupsPerPacket.toFixed(3)} sleeps/pkt` +
            `${s.threadsNsPerPacket.capture > 0 ? ` (wake-ups/s event loop / capture / other ${wakeupsText(s.threadWakeupsPerSecond)})` : ''}, ` +
            `tcpreplay ${s.senderPercent.toFixed(0)} %, other load ${s.otherPercent.toFixed(0)} %, crossed ${int(s.crossed)}, ` +
            `counted ${s.counted === undefined ? '-' : int(s.counted)}, lost ${s.lost === undefined ? '-' : int(s.lost)}` +
            `${s.toolDropped ? `, tool-reported drops ${int(s.toolDropped)}` : ''}; tcpreplay ${int(s.tcpreplaySent ?? 0)} sent at ${int(s.tcpreplayPps ?? 0)} pps` +
            `${s.note ? ` (${s.note})` : ''}\n`,
        );
      }
    }
  }
}
await stop(probe, 1000);

const cpuInfo = readFileSync('/proc/cpuinfo', 'utf8');
const model = /model name\s*:\s*(.*)/.exec(cpuInfo)?.[1] ?? 'unknown CPU';
const kernel = sh(['uname', '-r']).trim();
const versions = [
  `node ${process.version}`,
  sh(['sh', '-c', 'tcpreplay --version 2>&1 | head -1']).trim(),
  have('tcpdump') ? sh(['sh', '-c', 'tcpdump --version 2>&1 | head -1']).trim() : '',
  have('nethogs') ? `nethogs ${sh(['sh', '-c', 'nethogs -V 2>&1 | head -1']).trim().replace(/^version\s*/, '')}` : '',
].filter(Boolean);

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const commit = spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
const dirty = spawnSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no', 'src'], { encoding: 'utf8' });
const at = commit.status === 0 ? `netmeter ${commit.stdout.trim()}${dirty.stdout.trim() ? ' with uncommitted changes in src/' : ''}; ` : '';
let out = `\n${new Date().toISOString().slice(0, 10)}, ${at}${model}, ${sh(['nproc']).trim()} cores, kernel ${kernel}; ${versions.join(', ')}\n`;
out += `60-byte UDP frames ${loopback ? 'on loopback' : 'over a veth pair'}, ${unowned ? 'to ports no socket holds' : 'to ports held by a process that never reads them'}; tool CPU = on-CPU time (schedstat) of every thread of the tool's process tree over each window; median of ${runs} interleaved runs\n`;
const windowTitles: Record<WindowName, string> = {
  start: `start-up: a ${windowS} s window from ${settleS} s after the traffic started (the tools started ${startupS} s before it)`,
  steady: `steady: a ${steadyS} s window from ${steadyAfterS} s after the traffic started`,
};
for (const window of steadyS > 0 ? (['start', 'steady'] as const) : (['start'] as const)) {
  out += `\n${windowTitles[window]}\n\n`;
  out += "| tool | rate target / achieved (packets/s) | tool CPU ns/packet | tool CPU % of one core | sleeps/packet | netmeter's wake-ups/s: event loop / capture / other | packets lost (median; per run) | tcpreplay / other load, % of a core |\n|---|---:|---:|---:|---:|---:|---|---:|\n";
  for (const rate of rates) {
    for (const tool of tools) {
      const mine = samples.filter((s) => s.tool === tool.name && s.rate === rate && s.window === window);
      if (mine.length === 0) continue;
      const target = rate === 'max' ? 'max' : int(Number(rate));
      const achieved = int(median(mine.map((s) => s.achievedPps)));
      let lost: string;
      if (tool.name === BASELINE) lost = '';
      else if (mine.some((s) => s.lost === undefined)) lost = `n/a (${mine.find((s) => s.note)?.note ?? 'no count'})`;
      else {
        const crossedMedian = median(mine.map((s) => s.crossed));
        const lostMedian = median(mine.map((s) => s.lost!));
        lost = `${int(lostMedian)} of ${int(crossedMedian)} (${((lostMedian / crossedMedian) * 100).toFixed(2)} %); ${mine.map((s) => int(s.lost!)).join(', ')}`;
        const dropped = mine.map((s) => s.toolDropped ?? 0);
        if (dropped.some((d) => d > 0)) lost += `; tool-reported drops ${dropped.map(int).join(', ')}`;
      }
      let cpu = int(median(mine.map((s) => s.cpuNsPerPacket)));
      if (mine[0]!.threadsNsPerPacket.capture > 0) {
        cpu += ` (${threadSplitText({
          main: median(mine.map((s) => s.threadsNsPerPacket.main)),
          capture: median(mine.map((s) => s.threadsNsPerPacket.capture)),
          other: median(mine.map((s) => s.threadsNsPerPacket.other)),
        }).slice(2)})`;
      }
      if (mine[0]!.processes > 1) cpu += ` (main ${int(median(mine.map((s) => s.mainCpuNsPerPacket)))} + children ${int(median(mine.map((s) => s.cpuNsPerPacket - s.mainCpuNsPerPacket)))})`;
      const load = `${median(mine.map((s) => s.senderPercent)).toFixed(0)} / ${median(mine.map((s) => s.otherPercent)).toFixed(0)}`;
      const none = tool.name === BASELINE;
      const cpuPercent = none ? '–' : median(mine.map((s) => s.cpuPercent)).toFixed(1);
      const sleeps = none ? '–' : median(mine.map((s) => s.wakeupsPerPacket)).toFixed(3);
      const wakeups =
        mine[0]!.threadsNsPerPacket.capture > 0
          ? wakeupsText({
              main: median(mine.map((s) => s.threadWakeupsPerSecond.main)),
              capture: median(mine.map((s) => s.threadWakeupsPerSecond.capture)),
              other: median(mine.map((s) => s.threadWakeupsPerSecond.other)),
            })
          : '–';
      out += `| ${tool.name} | ${target} / ${achieved} | ${none ? '–' : cpu} | ${cpuPercent} | ${sleeps} | ${wakeups} | ${lost} | ${load} |\n`;
    }
  }
}
out += `\nAchieved = packets that crossed ${loopback ? 'lo' : 'the veth'} in the start-up window ÷ window; tcpreplay's own summary, per run:\n`;
for (const rate of rates) {
  const mine = samples.filter((s) => s.rate === rate && s.window === 'start');
  out += `- ${rate}: ${mine.map((s) => `${int(s.tcpreplayPps ?? 0)}`).join(', ')} packets/s` +
    `${mine.some((s) => (s.tcpreplayFailed ?? 0) > 0) ? ` (failed sends: ${mine.map((s) => s.tcpreplayFailed ?? 0).join(', ')})` : ''}\n`;
}
const reproduce = ['npm run build && node dist/test/bench/live-cpu-bench.js', `--rates ${values.rates}`];
if (runs !== 3) reproduce.push(`--runs ${runs}`);
if (windowS !== 10) reproduce.push(`--window ${windowS}`);
if (startupS !== 2) reproduce.push(`--startup ${startupS}`);
if (settleS !== 1) reproduce.push(`--settle ${settleS}`);
if (values.tools !== 'netmeter,nethogs,tcpdump') reproduce.push(`--tools ${values.tools}`);
if (ppsMulti) reproduce.push(`--pps-multi ${ppsMulti}`);
if (values['no-baseline']) reproduce.push('--no-baseline');
if (loopback) reproduce.push('--workload loopback');
else if (unowned) reproduce.push('--unowned');
if (steadyS > 0) reproduce.push(`--steady ${steadyS}${steadyAfterS !== 10 ? ` --steady-after ${steadyAfterS}` : ''}`);
out += `\nreproduce (as root): ${reproduce.join(' ')}\n`;
process.stdout.write(out);
if (values.json) writeFileSync(values.json, `${JSON.stringify(samples, null, 2)}\n`);
cleanup();
