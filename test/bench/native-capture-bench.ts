// Native capture benchmark: CPU time per packet, and packets lost, of a Node process that
// captures with NativeLiveSource (src/capture/native-source.ts) and only counts packets, of
// one that also runs every batch through the Meter, of the same with CapLiveSource (the
// `cap` engine, for comparison), and of `tcpdump -w /dev/null` — same traffic, same run.
//
// Setup (root only), as in live-cpu-bench.ts: two network namespaces joined by a veth pair,
// 198.18.0.1/24 → 198.18.0.2/24, IPv6 off; `tcpreplay --pps=N` loops 1024 small UDP frames
// (60 bytes) on the sending end; each tool captures on the receiving end inside its
// namespace, one at a time. No traffic leaves the two namespaces.
//
// One run of one tool: start it, wait --startup (2 s), start the traffic, wait --settle
// (1 s), then read the CPU time of every thread of the tool's process tree (the capture
// threads and cap's capture process included; /proc/PID/task/TID/schedstat, i.e. utime +
// stime at ns resolution) at the start and end of a --window (10 s). CPU ns per packet = ΔCPU / packets that crossed the veth in the window.
// After the traffic stops the tool is stopped (SIGINT) and says what it counted and what
// libpcap's pcap_stats says (received, dropped by the kernel); lost = crossed − counted.
// Runs are interleaved (rep 1: every rate × tool, rep 2: ...) and the median is reported.
//
// Usage: npm run build && node dist/test/bench/native-capture-bench.js [--rates 100000,300000]
//        [--runs 3] [--window 10] [--startup 2] [--settle 1]
//        [--tools native-count,native-meter,coalesced-count,coalesced-meter,cap-count,tcpdump]
//        [--json FILE] (coalesced-*: NativeLiveSource with coalesce, as netmeter runs it)
//        [--batch-packets N] (NativeLiveSource's batchPackets)
// Internal: --child native-count|native-meter|cap-count --device IF (a capturing process).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Meter } from '../../src/account/meter.js';
import { CapLiveSource } from '../../src/capture/cap-source.js';
import { NativeLiveSource } from '../../src/capture/native-source.js';
import type { PacketSource } from '../../src/capture/packet-batch.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '100000,300000' },
    runs: { type: 'string', default: '3' },
    window: { type: 'string', default: '10' },
    startup: { type: 'string', default: '2' },
    settle: { type: 'string', default: '1' },
    tools: { type: 'string', default: 'native-count,native-meter,cap-count,tcpdump' },
    json: { type: 'string' },
    child: { type: 'string' },
    device: { type: 'string' },
    'batch-packets': { type: 'string' },
  },
});

// ---- The capturing process ------------------------------------------------------------

interface ChildReport {
  counted: number;
  batches: number;
  received?: number;
  droppedByKernel?: number;
  droppedByNetmeter: number;
}

async function runChild(kind: string, device: string): Promise<void> {
  const batchPackets = values['batch-packets'] === undefined ? {} : { batchPackets: Number(values['batch-packets']) };
  const source: PacketSource & { close(): Promise<void>; droppedPackets: number } =
    kind === 'cap-count'
      ? await CapLiveSource.open({ devices: [device] })
      : await NativeLiveSource.open({ devices: [device], coalesce: kind.startsWith('coalesced-'), ...batchPackets });
  const meter = kind.endsWith('-meter') ? new Meter({ isLocal: () => false, owner: () => undefined }) : undefined;
  let counted = 0;
  let batches = 0;
  const stop = () => void source.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.write('ready\n');
  for await (const batch of source.batches()) {
    if (batch.packets === null) counted += batch.count;
    else for (let i = 0; i < batch.count; i++) counted += batch.packets[i]!;
    batches++;
    meter?.ingest(batch);
  }
  const report: ChildReport = { counted, batches, droppedByNetmeter: source.droppedPackets };
  if (source instanceof NativeLiveSource) {
    const stats = source.stats();
    report.received = stats.received;
    report.droppedByKernel = stats.droppedByKernel;
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (values.child !== undefined) {
  await runChild(values.child, values.device!);
  process.exit(0);
}

// ---- The benchmark ----------------------------------------------------------------------

const rates = values.rates.split(',').map((r) => r.trim());
for (const r of rates) if (!(Number(r) > 0)) throw new Error(`bad rate '${r}' (packets/s)`);
const runs = Number(values.runs);
const windowS = Number(values.window);
const startupS = Number(values.startup);
const settleS = Number(values.settle);
const toolNames = values.tools.split(',').map((t) => t.trim());
const self = fileURLToPath(import.meta.url);

if (process.getuid?.() !== 0) {
  process.stderr.write('native-capture-bench: must run as root (it creates network namespaces and captures)\n');
  process.exit(1);
}
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
for (const needed of ['ip', 'tcpreplay']) {
  if (!have(needed)) {
    process.stderr.write(`native-capture-bench: '${needed}' is required (apt-get install -y iproute2 tcpreplay)\n`);
    process.exit(1);
  }
}

const tag = `nmn${process.pid}`;
const nsTx = `${tag}-tx`;
const nsRx = `${tag}-rx`;
const ifTx = `${tag}a`.slice(0, 15);
const ifRx = `${tag}b`.slice(0, 15);
const pcapPath = `/tmp/${tag}-udp60.pcap`;
const MAC_TX = [0x02, 0, 0, 0, 0, 0x01];
const MAC_RX = [0x02, 0, 0, 0, 0, 0x02];

const started = new Set<ChildProcess>();
let cleanedUp = false;
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const child of started) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL'); // its own process group, by id
    } catch {
      /* already gone */
    }
  }
  for (const ns of [nsTx, nsRx]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  rmSync(pcapPath, { force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nnative-capture-bench: ${signal}, cleaning up\n`);
    cleanup();
    process.exit(130);
  });
}

function sh(args: string[]): string {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

function start(args: string[]): ChildProcess {
  const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  child.on('exit', () => started.delete(child));
  return child;
}

function collect(stream: NodeJS.ReadableStream | null | undefined): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => (text += chunk));
  return () => text;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

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

function setUpNetwork(): void {
  sh(['ip', 'netns', 'add', nsTx]);
  sh(['ip', 'netns', 'add', nsRx]);
  sh(['ip', 'link', 'add', ifTx, 'netns', nsTx, 'type', 'veth', 'peer', 'name', ifRx, 'netns', nsRx]);
  const ends: Array<[string, string, number[], string]> = [
    [nsTx, ifTx, MAC_TX, '198.18.0.1/24'],
    [nsRx, ifRx, MAC_RX, '198.18.0.2/24'],
  ];
  for (const [ns, dev, mac, address] of ends) {
    sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'address', mac.map((b) => b.toString(16).padStart(2, '0')).join(':')]);
    sh(['ip', '-n', ns, 'addr', 'add', address, 'dev', dev]);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
  }
}

function checksum(bytes: Buffer, startAt: number, end: number, sum = 0): number {
  for (let i = startAt; i < end; i += 2) sum += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** 1024 Ethernet/IPv4/UDP frames of 60 bytes, 198.18.0.1 → 198.18.0.2, 4 × 8 ports. */
function writeUdpCapture(path: string): void {
  const payload = 18;
  const src = [198, 18, 0, 1];
  const dst = [198, 18, 0, 2];
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const parts = [header];
  for (let i = 0; i < 1024; i++) {
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
}

const clockTicks = Number(sh(['getconf', 'CLK_TCK']).trim()) || 100;

/**
 * CPU time (ns) of pid and its live descendants, every thread included: the sum of each
 * thread's run time from /proc/PID/task/TID/schedstat — the same time utime + stime count,
 * at nanosecond rather than 10 ms resolution, which matters at 1 % of a core.
 */
function treeCpuNs(root: number): number {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      continue; // exited meanwhile
    }
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
  let total = 0;
  for (const pid of tree) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return total;
}

function systemBusyNs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return ((f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) * 1e9) / clockTicks;
}

let probePid = 0;
function interfacePackets(): { rx: number; tx: number } {
  const dev = readFileSync(`/proc/${probePid}/net/dev`, 'utf8');
  const line = dev.split('\n').find((l) => l.trim().startsWith(`${ifRx}:`));
  if (!line) throw new Error(`${ifRx} not in /proc/${probePid}/net/dev`);
  const f = line.split(':')[1]!.trim().split(/\s+/).map(Number);
  return { rx: f[1]!, tx: f[9]! };
}

interface Tool {
  name: string;
  command?: string[];
  /** What the tool says it captured, received (pcap_stats) and dropped. */
  counts(stdout: string, stderr: string): { counted?: number; received?: number; droppedByKernel?: number; droppedByNetmeter?: number; note?: string };
}

const BASELINE = '(no capture: traffic only)';
const tools: Tool[] = [{ name: BASELINE, counts: () => ({}) }];
const childCounts = (stdout: string) => {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  if (!line.startsWith('{')) return { note: 'no report' };
  const r = JSON.parse(line) as ChildReport;
  return {
    counted: r.counted,
    droppedByNetmeter: r.droppedByNetmeter,
    ...(r.received !== undefined ? { received: r.received } : {}),
    ...(r.droppedByKernel !== undefined ? { droppedByKernel: r.droppedByKernel } : {}),
  };
};
const childTool = (kind: string, name: string): Tool => ({
  name,
  command: [process.execPath, self, '--child', kind, '--device', ifRx, ...(values['batch-packets'] ? ['--batch-packets', values['batch-packets']] : [])],
  counts: childCounts,
});
for (const name of toolNames) {
  if (name === 'native-count') tools.push(childTool(name, 'NativeLiveSource, count only'));
  else if (name === 'native-meter') tools.push(childTool(name, 'NativeLiveSource + Meter.ingest'));
  else if (name === 'coalesced-count') tools.push(childTool(name, 'NativeLiveSource coalesced, count only'));
  else if (name === 'coalesced-meter') tools.push(childTool(name, 'NativeLiveSource coalesced + Meter.ingest'));
  else if (name === 'cap-count') tools.push(childTool(name, 'CapLiveSource (cap), count only'));
  else if (name === 'tcpdump') {
    if (!have('tcpdump')) {
      process.stderr.write('tcpdump not installed: skipped\n');
      continue;
    }
    tools.push({
      name: 'tcpdump -i IF -w /dev/null',
      command: ['tcpdump', '-n', '-i', ifRx, '-w', '/dev/null'],
      counts(_stdout, stderr) {
        const captured = /(\d+) packets? captured/.exec(stderr)?.[1];
        const received = /(\d+) packets? received by filter/.exec(stderr)?.[1];
        const dropped = /(\d+) packets? dropped by kernel/.exec(stderr)?.[1];
        if (captured === undefined) return { note: 'no statistics printed' };
        return { counted: Number(captured), received: Number(received ?? NaN), droppedByKernel: Number(dropped ?? 0) };
      },
    });
  } else throw new Error(`unknown tool '${name}' (native-count, native-meter, coalesced-count, coalesced-meter, cap-count, tcpdump)`);
}

interface Sample {
  tool: string;
  rate: string;
  rep: number;
  achievedPps: number;
  cpuNsPerPacket: number;
  cpuPercent: number;
  senderPercent: number;
  otherPercent: number;
  tcpreplaySent: number;
  crossed: number;
  counted?: number;
  lost?: number;
  received?: number;
  droppedByKernel?: number;
  droppedByNetmeter?: number;
  note?: string;
}

async function runOnce(tool: Tool, rate: string, rep: number): Promise<Sample> {
  const before = interfacePackets();
  const child = tool.command ? start(['ip', 'netns', 'exec', nsRx, ...tool.command]) : undefined;
  const stdout = collect(child?.stdout);
  const stderr = collect(child?.stderr);
  await sleep(startupS * 1000);
  if (child && child.exitCode !== null) throw new Error(`${tool.name} exited during start-up: ${stderr().trim()}`);
  const cpuOf = () => (child ? treeCpuNs(child.pid!) : 0);

  const trafficSeconds = Math.ceil(settleS + windowS + 1);
  const replay = start(['ip', 'netns', 'exec', nsTx, 'tcpreplay', '-K', '--loop=0', `--duration=${trafficSeconds}`, `--pps=${rate}`, '-i', ifTx, pcapPath]);
  const replayText = collect(replay.stdout);
  collect(replay.stderr);

  await sleep(settleS * 1000);
  const cpu0 = cpuOf();
  const sender0 = treeCpuNs(replay.pid!);
  const sys0 = systemBusyNs();
  const if0 = interfacePackets();
  const t0 = process.hrtime.bigint();
  await sleep(windowS * 1000);
  const cpu1 = cpuOf();
  const sender1 = treeCpuNs(replay.pid!);
  const sys1 = systemBusyNs();
  const if1 = interfacePackets();
  const t1 = process.hrtime.bigint();

  await exited(replay);
  await sleep(1000);
  if (child) await stop(child);
  await sleep(200);
  const after = interfacePackets();

  const seconds = Number(t1 - t0) / 1e9;
  const windowPackets = if1.rx - if0.rx;
  const sent = /Actual: (\d+) packets/.exec(replayText())?.[1];
  const crossed = after.rx - before.rx + (after.tx - before.tx);
  let counts: ReturnType<Tool['counts']>;
  try {
    counts = tool.counts(stdout(), stderr());
  } catch (error) {
    counts = { note: `unreadable output: ${(error as Error).message}` };
  }
  return {
    tool: tool.name,
    rate,
    rep,
    achievedPps: windowPackets / seconds,
    cpuNsPerPacket: (cpu1 - cpu0) / windowPackets,
    cpuPercent: ((cpu1 - cpu0) / 1e9 / seconds) * 100,
    senderPercent: ((sender1 - sender0) / 1e9 / seconds) * 100,
    otherPercent: ((sys1 - sys0 - (cpu1 - cpu0) - (sender1 - sender0)) / 1e9 / seconds) * 100,
    tcpreplaySent: Number(sent ?? NaN),
    crossed,
    ...(counts.counted !== undefined ? { counted: counts.counted, lost: crossed - counts.counted } : {}),
    ...(counts.received !== undefined ? { received: counts.received } : {}),
    ...(counts.droppedByKernel !== undefined ? { droppedByKernel: counts.droppedByKernel } : {}),
    ...(counts.droppedByNetmeter !== undefined ? { droppedByNetmeter: counts.droppedByNetmeter } : {}),
    ...(counts.note !== undefined ? { note: counts.note } : {}),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const int = (n: number) => Math.round(n).toLocaleString('en');

setUpNetwork();
writeUdpCapture(pcapPath);
const probe = start(['ip', 'netns', 'exec', nsRx, 'sleep', '1000000']);
// A socket on each destination port that is never read: the kernel drops the datagrams
// quietly when its buffer is full instead of answering with ICMP.
const sink = start([
  'ip', 'netns', 'exec', nsRx, 'perl', '-MIO::Socket::INET', '-e',
  'my @s = map { IO::Socket::INET->new(Proto => "udp", LocalAddr => "198.18.0.2", LocalPort => $_) or die "bind $_: $!\\n" } 5001 .. 5008; sleep 1e9',
]);
await sleep(300);
if (sink.exitCode !== null) throw new Error('the UDP sink did not start (is perl installed?)');
probePid = probe.pid!;
interfacePackets();

process.stderr.write(`veth ${ifTx} (ns ${nsTx}) → ${ifRx} (ns ${nsRx}); rates ${rates.join(', ')}; ${runs} interleaved runs; window ${windowS} s\n`);
const samples: Sample[] = [];
for (let rep = 1; rep <= runs; rep++) {
  for (const rate of rates) {
    for (const tool of tools) {
      const s = await runOnce(tool, rate, rep);
      samples.push(s);
      process.stderr.write(
        `run ${rep} ${rate} ${tool.name}: ${int(s.achievedPps)} pkt/s, ${s.cpuNsPerPacket.toFixed(0)} ns/pkt, ${s.cpuPercent.toFixed(1)} % CPU, ` +
          `tcpreplay ${s.senderPercent.toFixed(0)} %, other ${s.otherPercent.toFixed(0)} %, sent ${int(s.tcpreplaySent)}, crossed ${int(s.crossed)}, ` +
          `counted ${s.counted === undefined ? '-' : int(s.counted)}, received ${s.received === undefined ? '-' : int(s.received)}, ` +
          `kernel drops ${s.droppedByKernel ?? '-'}, netmeter drops ${s.droppedByNetmeter ?? '-'}${s.note ? ` (${s.note})` : ''}\n`,
      );
    }
  }
}
await stop(probe, 1000);
await stop(sink, 1000);

const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
const versions = [
  `node ${process.version}`,
  NativeLiveSource.libraryVersion() ?? '',
  sh(['sh', '-c', 'tcpreplay --version 2>&1 | head -1']).trim(),
  have('tcpdump') ? sh(['sh', '-c', 'tcpdump --version 2>&1 | head -1']).trim() : '',
].filter(Boolean);
let out = `\n${new Date().toISOString().slice(0, 10)}, ${model}, ${sh(['nproc']).trim()} cores, kernel ${sh(['uname', '-r']).trim()}; ${versions.join(', ')}\n`;
out += `60-byte UDP frames over a veth pair; tool CPU = run time (utime+stime, from schedstat) of every thread of the tool's process tree over a ${windowS} s window in steady state; median of ${runs} interleaved runs\n\n`;
out += '| tool | rate target / achieved (packets/s) | CPU ns/packet | CPU % of one core | lost (crossed − counted), median; per run | pcap_stats: received / kernel drops; netmeter drops | tcpreplay / other load, % of a core |\n|---|---:|---:|---:|---|---|---:|\n';
for (const rate of rates) {
  for (const tool of tools) {
    const mine = samples.filter((s) => s.tool === tool.name && s.rate === rate);
    if (mine.length === 0) continue;
    const none = tool.name === BASELINE;
    let lost = '';
    if (!none) {
      if (mine.some((s) => s.lost === undefined)) lost = `n/a (${mine.find((s) => s.note)?.note ?? 'no count'})`;
      else {
        const l = median(mine.map((s) => s.lost!));
        const c = median(mine.map((s) => s.crossed));
        lost = `${int(l)} of ${int(c)} (${((l / c) * 100).toFixed(2)} %); ${mine.map((s) => int(s.lost!)).join(', ')}`;
      }
    }
    const stats = none
      ? ''
      : mine
          .map((s) => `${s.received === undefined ? '–' : int(s.received)} / ${s.droppedByKernel === undefined ? '–' : int(s.droppedByKernel)}${s.droppedByNetmeter === undefined ? '' : `; ${int(s.droppedByNetmeter)}`}`)
          .join(', ');
    out +=
      `| ${tool.name} | ${int(Number(rate))} / ${int(median(mine.map((s) => s.achievedPps)))} | ${none ? '–' : int(median(mine.map((s) => s.cpuNsPerPacket)))} | ` +
      `${none ? '–' : median(mine.map((s) => s.cpuPercent)).toFixed(1)} | ${lost} | ${stats} | ` +
      `${median(mine.map((s) => s.senderPercent)).toFixed(0)} / ${median(mine.map((s) => s.otherPercent)).toFixed(0)} |\n`;
  }
}
const reproduce = ['npm run build && node dist/test/bench/native-capture-bench.js', `--rates ${values.rates}`];
if (runs !== 3) reproduce.push(`--runs ${runs}`);
if (windowS !== 10) reproduce.push(`--window ${windowS}`);
if (values.tools !== 'native-count,native-meter,cap-count,tcpdump') reproduce.push(`--tools ${values.tools}`);
out += `\nreproduce (as root): ${reproduce.join(' ')}\n`;
process.stdout.write(out);
if (values.json) writeFileSync(values.json, `${JSON.stringify(samples, null, 2)}\n`);
cleanup();
