// Takes a SocketSnapshot from a /proc root, and reads and writes its JSON form (what
// `--sockets FILE` reads and `record` embeds), checking a file's shape before anyone uses it.

import { canonicalIp } from '../decode/address.js';
import type { ProcFs } from './proc/proc-fs.js';
import { processKey } from './process-key.js';
import { walkSocketOwners } from './socket-owners.js';
import type { ProcessInfo, SocketEntry, SocketSnapshot } from './types.js';
import { NetmeterError } from '../errors.js';

/** A snapshot file that is not a version 1 SocketSnapshot; one line naming the path and the fault. */
/** A snapshot that knows no socket, process or address: what replay uses without one. */
export function emptySnapshot(): SocketSnapshot {
  return { version: 1, takenAt: 0, localAddresses: [], sockets: [], owners: [], processes: [] };
}

export class SnapshotFormatError extends NetmeterError {
  override readonly name = 'SnapshotFormatError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

// Enough process reads in flight to overlap the file system's latency without opening
// thousands of files at once on a busy host.
const CONCURRENCY = 16;

/**
 * Sockets, their owners and those owners' processes, as of now. Owners are kept only for
 * inodes that appear in the tables (a walk also finds unix and netlink sockets), and only
 * pids whose process could still be read: one that exited between the walk and the read
 * leaves its siblings (a forked child sharing the socket) as owners, or the inode ownerless.
 */
export async function takeSocketSnapshot(
  procFs: ProcFs,
  walk: (procRoot: string) => Promise<Map<number, number[]>> = walkSocketOwners,
  now: () => number = Date.now,
  known?: ProcessCache,
): Promise<SocketSnapshot> {
  // Tables before owners: a socket opened in between is missing from the tables (and found
  // by the next snapshot), rather than owned but absent.
  const sockets = await procFs.readSocketTables();
  const [held, localAddresses] = await Promise.all([findOwners(procFs, sockets, walk, known), procFs.localAddresses()]);
  return { version: 1, takenAt: Math.round(now()) / 1000, localAddresses, sockets, ...held };
}

type Owners = Pick<SocketSnapshot, 'owners' | 'processes'>;

async function findOwners(
  procFs: ProcFs,
  sockets: SocketEntry[],
  walk: (procRoot: string) => Promise<Map<number, number[]>>,
  known: ProcessCache | undefined,
): Promise<Owners> {
  const walked = await walk(procFs.root);
  const inTables = new Set(sockets.map((s) => s.inode).filter((inode) => inode !== 0));
  const held = [...walked].filter(([inode]) => inTables.has(inode)).sort((a, b) => a[0] - b[0]);
  const pids = [...new Set(held.flatMap(([, p]) => p))].sort((a, b) => a - b);
  const processes = (await mapBounded(pids, (pid) => (known ? known.read(procFs, pid) : procFs.readProcess(pid)))).filter(
    (p): p is ProcessInfo => p !== undefined,
  );
  const alive = new Set(processes.map((p) => p.pid));
  known?.keepOnly(alive);
  const owners: Array<[number, number[]]> = [];
  for (const [inode, holders] of held) {
    const living = [...holders].filter((pid) => alive.has(pid)).sort((a, b) => a - b);
    if (living.length > 0) owners.push([inode, living]);
  }
  return { owners, processes };
}

/**
 * Longest time a reader goes on trusting owners found by an earlier walk of the fds. Owners
 * can change with no new socket and no process end (a socket handed to another process over
 * a unix socket, a parent closing its copy after a fork): such a change shows within this.
 */
export const WALK_AT_LEAST_EVERY_MS = 10_000;

/** What a read takes of TCP: the tables, or only the listening sockets (see read()). */
export type TcpRead = 'tables' | 'listeners';

const TCP_LISTEN = 10;

/**
 * Successive snapshots of one /proc, for the live re-reads. Every read reads the UDP tables
 * and, as asked, the TCP tables or only the TCP listeners; the walk of every process's fds,
 * and the start times of the owners, only when something may have changed hands: an inode
 * no walk has looked for yet, the end of a process that holds a socket, or
 * WALK_AT_LEAST_EVERY_MS since the last walk. On an idle host that is most re-reads, and
 * the walk was most of their cost with 10,000 processes (2-4 s, and ~10 kB of garbage a
 * process on the reader thread).
 * Process ends come from the kernel (kernel-owners.ts); a caller that does not hear of them
 * passes `undefined`, and every read walks.
 */
export class SnapshotReader {
  private readonly known = new ProcessCache();
  private last: SocketSnapshot | undefined;
  private walkedAt = -Infinity;
  private tcpTablesAt = -Infinity;
  /** Inodes in the tables at the last walk, owned or not (a kernel's own socket never is). */
  private walkedInodes = new Set<number>();
  /** Ended pids the last read still listed (the kernel reports an end before the fds close). */
  private readonly endedListed = new Set<number>();

  constructor(
    private readonly procFs: ProcFs,
    private readonly walk: (procRoot: string) => Promise<Map<number, number[]>> = walkSocketOwners,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The snapshot as of now, or undefined when it would list the same sockets, owners,
   * processes and addresses as the one returned before. `ended`: pids that ended since the
   * last call; undefined when not known. `tcp`: 'listeners' takes the TCP listeners from
   * sock_diag and keeps the last read's TCP connections: reading net/tcp and tcp6 makes the
   * kernel scan its whole established hash, twice per file (~10 ms here with two sockets in
   * it), while the connections this host makes come from the kernel's connect events and
   * accepted ones fall back to their listener. The tables are still read when sock_diag
   * cannot answer, and at least every WALK_AT_LEAST_EVERY_MS.
   */
  async read(ended: readonly number[] | undefined, tcp: TcpRead = 'tables'): Promise<SocketSnapshot | undefined> {
    const last = this.last;
    if (ended?.length) {
      const listed = new Set(last?.processes.map((p) => p.pid));
      for (const pid of ended) if (listed.has(pid)) this.endedListed.add(pid);
    }
    const startedAt = this.now();
    const listeners =
      tcp === 'listeners' && last !== undefined && startedAt - this.tcpTablesAt < WALK_AT_LEAST_EVERY_MS ? this.procFs.readTcpListeners() : undefined;
    const read = await this.procFs.readSocketTables(listeners ? ['udp'] : ['tcp', 'udp']);
    if (!listeners) this.tcpTablesAt = startedAt;
    // Rows in the tables' order: TCP (listeners first), then UDP.
    const sockets = listeners ? [...listeners, ...last!.sockets.filter((s) => s.protocol === 'tcp' && s.state !== TCP_LISTEN), ...read] : read;
    const mustWalk =
      last === undefined ||
      ended === undefined ||
      this.endedListed.size > 0 ||
      startedAt - this.walkedAt >= WALK_AT_LEAST_EVERY_MS ||
      sockets.some((s) => s.inode !== 0 && !this.walkedInodes.has(s.inode));
    // Compared once: the common case (idle sockets) keeps the last owners without new Sets of 10,000.
    const sameRows = last !== undefined && sameSockets(last.sockets, sockets);
    const [held, localAddresses] = await Promise.all([
      mustWalk ? findOwners(this.procFs, sockets, this.walk, this.known) : sameRows ? last : keepOwners(last, sockets),
      this.procFs.localAddresses(),
    ]);
    if (mustWalk) {
      this.walkedAt = startedAt;
      this.walkedInodes = new Set(sockets.map((s) => s.inode));
      const stillListed = new Set(held.processes.map((p) => p.pid));
      for (const pid of this.endedListed) if (!stillListed.has(pid)) this.endedListed.delete(pid);
    }
    if (
      last !== undefined &&
      sameRows &&
      sameItems(last.localAddresses, localAddresses) &&
      sameItems(last.processes, held.processes) &&
      sameOwners(last.owners, held.owners)
    ) {
      return undefined;
    }
    this.last = { version: 1, takenAt: Math.round(startedAt) / 1000, localAddresses, sockets, ...held };
    return this.last;
  }
}

/** The last walk's owners of the sockets still in the tables, and their processes. */
function keepOwners(last: SocketSnapshot, sockets: SocketEntry[]): Owners {
  const inTables = new Set(sockets.map((s) => s.inode));
  const owners = last.owners.filter(([inode]) => inTables.has(inode));
  const pids = new Set(owners.flatMap(([, p]) => p));
  return { owners, processes: last.processes.filter((p) => pids.has(p.pid)) };
}

function sameSockets(a: SocketEntry[], b: SocketEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.inode !== y.inode ||
      x.state !== y.state ||
      x.localPort !== y.localPort ||
      x.remotePort !== y.remotePort ||
      x.protocol !== y.protocol ||
      x.uid !== y.uid ||
      x.localAddress !== y.localAddress ||
      x.remoteAddress !== y.remoteAddress
    ) {
      return false;
    }
  }
  return true;
}

/** Same items in the same order; processes compare by identity (ProcessCache hands out the same object while a pid is the same process). */
function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function sameOwners(a: SocketSnapshot['owners'], b: SocketSnapshot['owners']): boolean {
  return a.length === b.length && a.every(([inode, pids], i) => inode === b[i]![0] && sameItems(pids, b[i]![1]));
}

/**
 * What was read of each process, kept from one snapshot to the next: a process is read in
 * full once (comm, cmdline, status, stat, exe); after that its start time alone (one file)
 * tells that the pid is still that process. Reading every process in full every second was
 * most of a re-read's time with 10,000 processes (8.6-11.6 s of 7-21 s, docs/accuracy.md).
 * A process that renames itself later keeps its first name here, as in nethogs.
 */
export class ProcessCache {
  private readonly byPid = new Map<number, ProcessInfo>();

  async read(procFs: ProcFs, pid: number): Promise<ProcessInfo | undefined> {
    const cached = this.byPid.get(pid);
    if (cached?.startTime !== undefined) {
      const startTime = await procFs.readStartTime(pid);
      if (startTime === undefined) return undefined; // gone
      if (startTime === cached.startTime) return cached;
    }
    const info = await procFs.readProcess(pid);
    if (info) this.byPid.set(pid, info);
    else this.byPid.delete(pid);
    return info;
  }

  /** Forgets the processes not among these pids (gone, or holding no socket any more). */
  keepOnly(pids: Set<number>): void {
    for (const pid of this.byPid.keys()) if (!pids.has(pid)) this.byPid.delete(pid);
  }
}

/**
 * JSON with one socket, owner or process per line: small enough to commit beside a capture
 * and to read in a diff. Fields are written in a fixed order, unknown ones dropped.
 */
export function serializeSocketSnapshot(s: SocketSnapshot): string {
  const list = (items: unknown[]) =>
    items.length === 0 ? '[]' : `[\n${items.map((item) => `    ${JSON.stringify(item)}`).join(',\n')}\n  ]`;
  const sockets = s.sockets.map((e) => ({
    protocol: e.protocol,
    localAddress: e.localAddress,
    localPort: e.localPort,
    remoteAddress: e.remoteAddress,
    remotePort: e.remotePort,
    inode: e.inode,
    uid: e.uid,
    state: e.state,
  }));
  const processes = s.processes.map((p) => {
    const out: ProcessInfo = { pid: p.pid, name: p.name, cmdline: p.cmdline, user: p.user, uid: p.uid };
    if (p.exe !== undefined) out.exe = p.exe;
    if (p.startTime !== undefined) out.startTime = p.startTime;
    return out;
  });
  return [
    '{',
    `  "version": ${s.version},`,
    `  "takenAt": ${JSON.stringify(s.takenAt)},`,
    `  "localAddresses": ${JSON.stringify(s.localAddresses)},`,
    `  "sockets": ${list(sockets)},`,
    `  "owners": ${list(s.owners)},`,
    `  "processes": ${list(processes)}`,
    '}',
    '',
  ].join('\n');
}

/**
 * Reads a snapshot's JSON, checking every field the resolver relies on. Addresses are
 * rewritten to canonical text, so a hand-written "FD00::0001" matches packets as fd00::1.
 * `path` only names the source in error messages.
 */
export function parseSocketSnapshot(json: string, path: string): SocketSnapshot {
  const fail = (detail: string): never => {
    throw new SnapshotFormatError(path, detail);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (error) {
    return fail(`not JSON (${(error as Error).message}); expected a socket snapshot written by netmeter`);
  }
  const root = asObject(doc, 'the document', fail);
  if (root['version'] !== 1) {
    fail(`unsupported version ${JSON.stringify(root['version'])}; this netmeter reads version 1`);
  }
  const takenAt = root['takenAt'];
  if (typeof takenAt !== 'number' || !Number.isFinite(takenAt)) fail(`takenAt must be a number of seconds, got ${show(takenAt)}`);
  const localAddresses = asArray(root['localAddresses'], 'localAddresses', fail).map((a, i) =>
    address(a, `localAddresses[${i}]`, fail),
  );
  const sockets = asArray(root['sockets'], 'sockets', fail).map((item, i): SocketEntry => {
    const where = `sockets[${i}]`;
    const o = asObject(item, where, fail);
    const protocol = o['protocol'];
    if (protocol !== 'tcp' && protocol !== 'udp') return fail(`${where}.protocol must be "tcp" or "udp", got ${show(protocol)}`);
    return {
      protocol,
      localAddress: address(o['localAddress'], `${where}.localAddress`, fail),
      localPort: integer(o['localPort'], `${where}.localPort`, 65535, fail),
      remoteAddress: address(o['remoteAddress'], `${where}.remoteAddress`, fail),
      remotePort: integer(o['remotePort'], `${where}.remotePort`, 65535, fail),
      inode: integer(o['inode'], `${where}.inode`, Number.MAX_SAFE_INTEGER, fail),
      uid: integer(o['uid'], `${where}.uid`, 0xffffffff, fail),
      state: integer(o['state'], `${where}.state`, 255, fail),
    };
  });
  const owners = asArray(root['owners'], 'owners', fail).map((item, i): [number, number[]] => {
    const where = `owners[${i}]`;
    const pair = asArray(item, where, fail);
    if (pair.length !== 2) fail(`${where} must be [inode, [pid, ...]], got ${show(item)}`);
    const pids = asArray(pair[1], `${where}[1]`, fail).map((p, j) => integer(p, `${where}[1][${j}]`, 0x7fffffff, fail));
    // The resolver takes the first pid as the owner, so the order is part of the format.
    return [integer(pair[0], `${where}[0]`, Number.MAX_SAFE_INTEGER, fail), pids.sort((a, b) => a - b)];
  });
  const processes = asArray(root['processes'], 'processes', fail).map((item, i): ProcessInfo => {
    const where = `processes[${i}]`;
    const o = asObject(item, where, fail);
    const info: ProcessInfo = {
      pid: integer(o['pid'], `${where}.pid`, 0x7fffffff, fail),
      name: text(o['name'], `${where}.name`, fail),
      cmdline: text(o['cmdline'], `${where}.cmdline`, fail),
      user: o['user'] === null ? null : text(o['user'], `${where}.user`, fail),
      uid: o['uid'] === null ? null : integer(o['uid'], `${where}.uid`, 0xffffffff, fail),
    };
    if (o['exe'] !== undefined) info.exe = text(o['exe'], `${where}.exe`, fail);
    if (o['startTime'] !== undefined) info.startTime = integer(o['startTime'], `${where}.startTime`, Number.MAX_SAFE_INTEGER, fail);
    return info;
  });
  return { version: 1, takenAt: takenAt as number, localAddresses, sockets, owners, processes };
}

type Fail = (detail: string) => never;

function show(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function asObject(value: unknown, where: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where} must be an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}

function asArray(value: unknown, where: string, fail: Fail): unknown[] {
  if (!Array.isArray(value)) fail(`${where} must be an array, got ${show(value)}`);
  return value as unknown[];
}

function integer(value: unknown, where: string, max: number, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    fail(`${where} must be an integer from 0 to ${max}, got ${show(value)}`);
  }
  return value as number;
}

function text(value: unknown, where: string, fail: Fail): string {
  if (typeof value !== 'string') fail(`${where} must be a string, got ${show(value)}`);
  return value as string;
}

function address(value: unknown, where: string, fail: Fail): string {
  const canonical = typeof value === 'string' ? canonicalIp(value) : undefined;
  return canonical ?? fail(`${where} must be an IPv4 or IPv6 address, got ${show(value)}`);
}

async function mapBounded<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return results;
}

/**
 * Everything two snapshots know, the newer winning where they disagree: a recording holds
 * a snapshot per re-read, and a replay needs the owners of sockets that lived between them.
 */
export function mergeSocketSnapshots(older: SocketSnapshot, newer: SocketSnapshot): SocketSnapshot {
  const socketKey = (s: SocketEntry) => `${s.protocol} ${s.localAddress} ${s.localPort} ${s.remoteAddress} ${s.remotePort} ${s.inode}`;
  const sockets = new Map(older.sockets.map((s) => [socketKey(s), s]));
  for (const s of newer.sockets) sockets.set(socketKey(s), s);
  const owners = new Map(older.owners);
  for (const [inode, pids] of newer.owners) owners.set(inode, pids);
  const processes = new Map(older.processes.map((p) => [processKey(p), p]));
  for (const p of newer.processes) processes.set(processKey(p), p);
  return {
    version: 1,
    takenAt: newer.takenAt,
    localAddresses: [...new Set([...older.localAddresses, ...newer.localAddresses])],
    sockets: [...sockets.values()],
    owners: [...owners].sort((a, b) => a[0] - b[0]),
    processes: [...processes.values()],
  };
}
