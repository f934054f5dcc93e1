// Shared machinery for the live tests (live capture, the Ink UI in tmux, record + replay):
// child processes that are always cleaned up, line-by-line waiting on their output, the
// traffic.mjs workloads, a tcpdump reference capture, and per-socket packet-level byte
// counts read from a capture with tshark (as fixtures/truth.mjs does).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI, REPO_ROOT, hasCommand } from './run-cli.js';
import { hasCapturePrivilege } from '../../src/capture/privilege.js';

export const TRAFFIC = path.join(REPO_ROOT, 'test', 'harness', 'traffic.mjs');
const execFileP = promisify(execFile);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The promise's value, or undefined after ms (the timer does not outlive the wait). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why a live test cannot run here, or undefined when it can. */
export function liveSkipReason(commands: string[] = []): string | undefined {
  if (process.platform !== 'linux') return 'live capture tests run on Linux only';
  if (!hasCapturePrivilege()) return 'needs CAP_NET_RAW (live capture): run the tests as root';
  for (const c of commands) if (!hasCommand(c)) return `needs ${c} on PATH`;
  return undefined;
}

/**
 * n random ports from [from, to), below the ephemeral range (32768-60999) so that no client
 * socket can take one; give each test file its own range so files running side by side
 * never filter in each other's traffic.
 */
export function randomPorts(n: number, from = 20000, to = 32000): number[] {
  const base = from + Math.floor(Math.random() * (to - from - n * 7));
  return Array.from({ length: n }, (_, i) => base + i * 7);
}

export function portFilter(ports: number[]): string {
  return ports.map((p) => `port ${p}`).join(' or ');
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `netmeter-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// --- lines from a stream --------------------------------------------------------------------

/** Collects a stream's lines and lets callers wait for one that matches. */
export class LineWatcher {
  readonly lines: string[] = [];
  private text = '';
  private partial = '';
  private closed = false;
  private waiters = new Set<() => void>();

  constructor(stream: NodeJS.ReadableStream | null, private readonly label: string) {
    if (!stream) {
      this.closed = true;
      return;
    }
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.text += chunk;
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.notify();
    });
    stream.on('end', () => {
      if (this.partial !== '') this.lines.push(this.partial);
      this.partial = '';
      this.closed = true;
      this.notify();
    });
  }

  /** Everything read so far. */
  get all(): string {
    return this.text;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The first line (already read or still to come) that matches, or a rejection after timeoutMs. */
  waitFor(match: (line: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.find(match);
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (this.closed) {
          finish();
          reject(new Error(`${this.label}: ended without ${what}; output:\n${this.text}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms; output so far:\n${this.text}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

// --- child processes --------------------------------------------------------------------------

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  stdout: LineWatcher;
  stderr: LineWatcher;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  exitCode(): number | string | undefined;
}

/** Starts processes and kills, by pid, whatever of them is still running at cleanup. */
export class ProcGroup {
  private readonly procs: Proc[] = [];

  spawn(name: string, command: string, args: string[], options: { cwd?: string } = {}): Proc {
    const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let code: number | string | undefined;
    const exited = new Promise<number | string>((resolve) => {
      child.on('close', (c, signal) => resolve((code = c ?? signal ?? 'unknown')));
      child.on('error', (error) => resolve((code = `spawn error: ${error.message}`)));
    });
    if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    const proc: Proc = {
      name, child, pid: child.pid,
      stdout: new LineWatcher(child.stdout, `${name} stdout`),
      stderr: new LineWatcher(child.stderr, `${name} stderr`),
      exited,
      exitCode: () => code,
    };
    this.procs.push(proc);
    return proc;
  }

  /** Starts the built netmeter CLI. */
  netmeter(name: string, args: string[]): Proc {
    return this.spawn(name, process.execPath, [CLI, ...args]);
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode() === undefined) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await Promise.all(this.procs.map((p) => within(p.exited, 3000)));
  }
}

/** Waits for a process's exit, failing the test (with its output) if it takes longer. */
export async function waitExit(proc: Proc, timeoutMs: number): Promise<number | string> {
  const result = await within(proc.exited, timeoutMs);
  if (result === undefined) {
    throw new Error(`${proc.name} (pid ${proc.pid}) did not exit within ${timeoutMs} ms; stderr:\n${proc.stderr.all}\nstdout:\n${proc.stdout.all}`);
  }
  return result;
}

/** Waits until the process (or a child of it) holds an AF_PACKET socket bound to an interface. */
export async function waitForPacketSocket(proc: Proc, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode() !== undefined) {
      throw new Error(`${proc.name} exited (${proc.exitCode()}) before opening its capture; stderr:\n${proc.stderr.all}`);
    }
    if (hasBoundPacketSocket(proc.pid)) return;
    await sleep(50);
  }
  throw new Error(`${proc.name} (pid ${proc.pid}) opened no packet socket within ${timeoutMs} ms; stderr:\n${proc.stderr.all}`);
}

/** pid and its descendants (netmeter captures in a child process). */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []));
  return tree;
}

function socketInodes(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m ? [m[1]!] : [];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

function hasBoundPacketSocket(pid: number): boolean {
  const inodes = new Set(processTree(pid).flatMap(socketInodes));
  // sk RefCnt Type Proto Iface R Rmem User Inode
  return readFileSync('/proc/net/packet', 'utf8').split('\n').slice(1).some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols.length >= 9 && cols[4] !== '0' && inodes.has(cols[8]!);
  });
}

// --- tcpdump, the reference capture --------------------------------------------------------------

export interface Tcpdump {
  proc: Proc;
  /** Stops it with SIGINT and waits until the file is written. */
  stop(): Promise<void>;
}

export async function startTcpdump(group: ProcGroup, iface: string, file: string, filter: string): Promise<Tcpdump> {
  // Immediate mode: without it libpcap hands packets over a ring block at a time, and a
  // block not yet full nor timed out (1 s) when SIGINT comes is lost to the reference. Its
  // ring has a frame per packet sized for the snap length: 256 bytes (the headers; the wire
  // length is kept whatever is cut) and 32 MiB hold ~90,000 packets, where the default
  // 262,144 bytes held 8 and dropped packets on a busy machine.
  const proc = group.spawn('tcpdump', 'tcpdump', ['-i', iface, '-n', '--immediate-mode', '-U', '-s', '256', '-B', '32768', '-w', file, filter]);
  await proc.stderr.waitFor((l) => l.includes('listening on'), '"listening on" line');
  return {
    proc,
    async stop() {
      process.kill(proc.pid, 'SIGINT');
      const code = await waitExit(proc, 10_000);
      if (code !== 0) throw new Error(`tcpdump exited with ${code}: ${proc.stderr.all}`);
      // A reference that lost packets is no reference.
      const dropped = /(\d+) packets? dropped by kernel/.exec(proc.stderr.all)?.[1];
      if (dropped !== undefined && dropped !== '0') throw new Error(`the tcpdump reference lost packets: ${proc.stderr.all}`);
    },
  };
}

// --- the workloads ------------------------------------------------------------------------------

export interface WorkloadEvent {
  event: string;
  pid: number;
  role?: string;
  protocol: 'tcp' | 'udp';
  localAddress: string;
  localPort: number;
  remoteAddress: string | null;
  remotePort: number | null;
  [key: string]: unknown;
}

export interface Workload {
  name: string;
  mode: string;
  proc: Proc;
  pid: number;
  ready: WorkloadEvent;
  /** tcp-server: the accepted connections, once waitConnections() resolved. */
  connections: WorkloadEvent[];
  done?: WorkloadEvent;
}

function events(proc: Proc): WorkloadEvent[] {
  return proc.stdout.lines.filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as WorkloadEvent);
}

function isEvent(name: string): (line: string) => boolean {
  return (line) => {
    try {
      return (JSON.parse(line) as WorkloadEvent).event === name;
    } catch {
      return false;
    }
  };
}

const isError = isEvent('error');

/** Starts traffic.mjs MODE ARGS and waits for its "ready" line. */
export async function startWorkload(group: ProcGroup, name: string, mode: string, args: string[], timeoutMs = 15_000): Promise<Workload> {
  const proc = group.spawn(name, process.execPath, [TRAFFIC, mode, ...args]);
  const line = await proc.stdout.waitFor((l) => isEvent('ready')(l) || isError(l), `${name}: "ready" line`, timeoutMs);
  const ready = JSON.parse(line) as WorkloadEvent;
  if (ready.event !== 'ready') throw new Error(`${name}: ${line}\n${proc.stderr.all}`);
  return { name, mode, proc, pid: ready.pid, ready, connections: [] };
}

/** tcp-server: waits for its n "connection" lines. */
export async function waitConnections(w: Workload, n: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const conns = events(w.proc).filter((e) => e.event === 'connection');
    if (conns.length >= n) {
      w.connections = conns;
      return;
    }
    if (Date.now() > deadline) throw new Error(`${w.name}: ${conns.length} of ${n} connection lines within ${timeoutMs} ms:\n${w.proc.stdout.all}`);
    await sleep(20);
  }
}

/** Waits for the "done" line (an "error" line fails) and the exit. */
export async function waitDone(w: Workload, timeoutMs = 20_000): Promise<WorkloadEvent> {
  const line = await w.proc.stdout.waitFor((l) => isEvent('done')(l) || isError(l), `${w.name}: "done" line`, timeoutMs);
  const done = JSON.parse(line) as WorkloadEvent;
  if (done.event !== 'done') throw new Error(`${w.name}: ${line}\n${w.proc.stderr.all}`);
  w.done = done;
  await waitExit(w.proc, 10_000);
  return done;
}

export function signalGo(goFile: string): void {
  writeFileSync(goFile, 'go\n');
}

/**
 * The standard mix on loopback: TCP over 127.0.0.1 and over ::1 (the client sends 20000
 * payload bytes, the server 50000) and UDP over 127.0.0.1 and ::1 (connected client,
 * echoing server). Servers first, then clients; resolves once every socket is set up
 * (ready lines, and each TCP server's accepted connection). Nothing is sent before go.
 */
export async function startLoopbackMix(group: ProcGroup, ports: number[], goFile: string): Promise<Workload[]> {
  const [tcp4, tcp6, udp4, udp6] = ports as [number, number, number, number];
  const go = ['--go-file', goFile, '--timeout', '40'];
  const udp = ['--count', '20', '--size', '1000'];
  const servers = await Promise.all([
    startWorkload(group, 'tcp4-server', 'tcp-server', ['--bind', '127.0.0.1', '--port', String(tcp4), '--send', '50000', '--expect', '20000', ...go]),
    startWorkload(group, 'tcp6-server', 'tcp-server', ['--bind', '::1', '--port', String(tcp6), '--send', '50000', '--expect', '20000', ...go]),
    startWorkload(group, 'udp4-server', 'udp-server', ['--bind', '127.0.0.1', '--port', String(udp4), ...udp, ...go]),
    startWorkload(group, 'udp6-server', 'udp-server', ['--bind', '::1', '--port', String(udp6), ...udp, ...go]),
  ]);
  const clients = await Promise.all([
    startWorkload(group, 'tcp4-client', 'tcp-client', ['--connect', '127.0.0.1', '--port', String(tcp4), '--send', '20000', '--expect', '50000', ...go]),
    startWorkload(group, 'tcp6-client', 'tcp-client', ['--connect', '::1', '--port', String(tcp6), '--send', '20000', '--expect', '50000', ...go]),
    startWorkload(group, 'udp4-client', 'udp-client', ['--connect', '127.0.0.1', '--port', String(udp4), '--connected', ...udp, ...go]),
    startWorkload(group, 'udp6-client', 'udp-client', ['--connect', '::1', '--port', String(udp6), '--connected', ...udp, ...go]),
  ]);
  await Promise.all(servers.filter((s) => s.mode === 'tcp-server').map((s) => waitConnections(s, 1)));
  return [...servers, ...clients];
}

// --- the sockets a workload used, and what a capture shows for them -------------------------------

export interface Endpoint {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  peer?: { address: string; port: number };
}

/** "::ffff:1.2.3.4" → "1.2.3.4"; lower case. */
export function canonAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address.toLowerCase();
}

const isV4 = (a: string) => /^\d+\.\d+\.\d+\.\d+$/.test(a);

/** The socket ends that carried a workload's packets (a TCP server's accepted connections). */
export function endpoints(w: Workload): Endpoint[] {
  if (w.mode === 'tcp-server') {
    return w.connections.map((c) => ({
      protocol: 'tcp' as const, address: c.localAddress, port: c.localPort,
      peer: { address: c.remoteAddress!, port: c.remotePort! },
    }));
  }
  const e: Endpoint = { protocol: w.ready.protocol, address: w.ready.localAddress, port: w.ready.localPort };
  if (w.ready.remoteAddress !== null && w.ready.remotePort !== null) {
    e.peer = { address: w.ready.remoteAddress, port: w.ready.remotePort };
  }
  return [e];
}

export interface CapturedPacket {
  len: number;
  protocol: 'tcp' | 'udp' | null;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
}

/** Every packet of a capture file, as tshark reads it: wire length, addresses and ports. */
export async function readCapture(file: string): Promise<CapturedPacket[]> {
  // frame.encap_type is empty for pcapng blocks that are not packets (netmeter record's
  // custom blocks with socket snapshots), which tshark lists as frames too.
  const fields = ['frame.encap_type', 'frame.len', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'];
  const { stdout } = await execFileP('tshark', [
    '-n', '-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f',
    ...fields.flatMap((f) => ['-e', f]),
  ], { maxBuffer: 64 << 20 });
  return stdout.split('\n').filter((l) => l !== '' && !l.startsWith('\t')).map((line) => {
    const [, len, ipSrc, ipDst, ip6Src, ip6Dst, tcpSrc, tcpDst, udpSrc, udpDst] = line.split('\t').map((c) => c ?? '');
    const protocol = tcpSrc ? 'tcp' : udpSrc ? 'udp' : null;
    return {
      len: Number(len),
      protocol,
      src: canonAddress(ipSrc || ip6Src || ''),
      dst: canonAddress(ipDst || ip6Dst || ''),
      srcPort: Number(tcpSrc || udpSrc || 0),
      dstPort: Number(tcpDst || udpDst || 0),
    };
  });
}

function addressMatches(bound: string, actual: string): boolean {
  const b = canonAddress(bound);
  if (b === '::') return true;
  if (b === '0.0.0.0') return isV4(actual);
  return b === actual;
}

function sentBy(p: CapturedPacket, e: Endpoint): boolean {
  return p.protocol === e.protocol && p.srcPort === e.port && addressMatches(e.address, p.src) &&
    (!e.peer || (canonAddress(e.peer.address) === p.dst && e.peer.port === p.dstPort));
}

function receivedBy(p: CapturedPacket, e: Endpoint): boolean {
  return p.protocol === e.protocol && p.dstPort === e.port && addressMatches(e.address, p.dst) &&
    (!e.peer || (canonAddress(e.peer.address) === p.src && e.peer.port === p.srcPort));
}

export interface Usage {
  sentBytes: number;
  receivedBytes: number;
  sentPackets: number;
  receivedPackets: number;
}

/** What the capture shows a workload's sockets sent and received (wire lengths). */
export function usageOf(packets: CapturedPacket[], w: Workload): Usage {
  const eps = endpoints(w);
  const u: Usage = { sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };
  for (const p of packets) {
    if (eps.some((e) => sentBy(p, e))) {
      u.sentBytes += p.len;
      u.sentPackets++;
    }
    if (eps.some((e) => receivedBy(p, e))) {
      u.receivedBytes += p.len;
      u.receivedPackets++;
    }
  }
  return u;
}

// --- netmeter's JSON document --------------------------------------------------------------------

export interface Counts {
  packets: number;
  bytes: number;
  sentBytes?: number;
  receivedBytes?: number;
  sentPackets?: number;
  receivedPackets?: number;
}

export interface ReportProcess extends Usage {
  pid: number | null;
  name: string;
  cmdline: string;
}

export interface Report {
  version: number;
  source: { kind: string; interfaces: string[]; packets: number; bytes: number };
  totals: Counts & { sentBytes: number; receivedBytes: number };
  processes: ReportProcess[];
  connections: unknown[];
  unknown: Counts;
  other: Counts;
}

export function parseReport(stdout: string, what: string): Report {
  try {
    return JSON.parse(stdout) as Report;
  } catch (error) {
    throw new Error(`${what}: stdout is not one JSON document (${(error as Error).message}):\n${stdout}`);
  }
}

export function usageFromReport(p: ReportProcess): Usage {
  return { sentBytes: p.sentBytes, receivedBytes: p.receivedBytes, sentPackets: p.sentPackets, receivedPackets: p.receivedPackets };
}

/** Per direction, processes + unknown + other, for comparison with totals. */
export function directionSums(report: Report): { sentBytes: number; receivedBytes: number; sentPackets: number; receivedPackets: number } {
  const parts: Array<Partial<Usage>> = [...report.processes, report.unknown, report.other];
  const sum = (k: keyof Usage) => parts.reduce((s, p) => s + (p[k] ?? 0), 0);
  return { sentBytes: sum('sentBytes'), receivedBytes: sum('receivedBytes'), sentPackets: sum('sentPackets'), receivedPackets: sum('receivedPackets') };
}
