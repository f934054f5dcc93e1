// Socket owners as the kernel reports them, for what /proc polling cannot see between two
// reads. eBPF programs in native/ (socket_events.c) report:
// - every TCP state change into or out of SYN_SENT: a client connection that opens and
//   closes between two reads (an HTTP client hammering a server) is found by it. connect()
//   enters SYN_SENT in the calling process, so that event names the owner; its source port
//   may still be 0 then, so the owner is joined to the full 4-tuple by the socket's kernel
//   address when the connection leaves SYN_SENT;
// - the end of every process: its sockets may pass to another (a service restarted on the
//   same port), which the caller learns in time to keep the two apart.
//
// Where the kernel cannot do this (no BPF, no tracefs, a PID namespace of its own), open()
// says why and attribution keeps to /proc.

import { UserNames } from './proc/user-names.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatIpv4, formatIpv6, unmapIpv4 } from '../decode/address.js';
import { loadNativeAddon } from '../native-addon.js';
import type { ProcessInfo, SocketEntry } from './types.js';

const TCP_ESTABLISHED = 1;
const TCP_SYN_SENT = 2;
const AF_INET = 2;
const AF_INET6 = 10;
const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const EVENT_DIR = join('events', 'sock', 'inet_sock_set_state');
const EXIT_DIR = join('events', 'sched', 'sched_process_exit');
// Event kinds and in-kernel filters, as native/src/socket_events.h numbers them.
const KIND_STATE = 1;
const KIND_PROCESS_EXIT = 2; // the last thread of a process ended (group_dead)
const KIND_TASK_EXIT = 3; // a thread ended (kernels without group_dead): its main thread ends the process
const FILTER_NONE = 0;
const FILTER_SYN_SENT = 1;
const FILTER_NONZERO_BYTE = 2;
/** How long a process read from /proc is trusted for a new connection of the same pid. */
const PROCESS_FRESH_MS = 1000;
/**
 * The least time between two wake-ups for the kernel's events. Events are taken as they come
 * (an idle host costs nothing: no timer), so that a connecting process is read while it
 * lives (one that ends sooner keeps the name and uid the kernel gave); under a storm of
 * connects one wake-up then takes the events of many. The 1 MiB ring holds ~10,000 events.
 */
export const WAKE_GAP_MS = 10;

/** What the addon's SocketEvents gives: whole events laid out as socketEventLayout says. */
export interface SocketEventSource {
  read(): Buffer | null;
  /** Calls onReady once, on the event loop, when events wait (the ring's fd through libuv). */
  watch(onReady: () => void): void;
  close(): void;
}

export interface EventLayout {
  size: number;
  recordFrom: number;
  recordBytes: number;
  pidAt: number;
  uidAt: number;
  commAt: number;
  kindAt: number;
}

/** Where the fields sit in an event: the tracepoint's format offsets, less recordFrom. */
interface FieldOffsets {
  skaddr: number;
  oldstate: number;
  newstate: number;
  sport: number;
  dport: number;
  family: number;
  saddr: number;
  daddr: number;
  saddr_v6: number;
  daddr_v6: number;
}

const FIELD_NAMES: Array<keyof FieldOffsets> = ['skaddr', 'oldstate', 'newstate', 'sport', 'dport', 'family', 'saddr', 'daddr', 'saddr_v6', 'daddr_v6'];

/** Offsets (in the record, as the format file gives them) of the fields read here. */
export function parseTracepointFormat(text: string): Map<string, { offset: number; size: number }> {
  const fields = new Map<string, { offset: number; size: number }>();
  for (const m of text.matchAll(/field:[^;]*?(\w+)(?:\[\d+\])?;\s*offset:(\d+);\s*size:(\d+);/g)) {
    fields.set(m[1]!, { offset: Number(m[2]), size: Number(m[3]) });
  }
  return fields;
}

/** The event offsets of the fields, or why this record cannot be read (a changed tracepoint). */
export function eventOffsets(format: Map<string, { offset: number; size: number }>, layout: EventLayout): FieldOffsets | string {
  const offsets: Partial<FieldOffsets> = {};
  for (const name of FIELD_NAMES) {
    const field = format.get(name);
    if (!field) return `the tracepoint has no field ${name}`;
    const at = field.offset - layout.recordFrom;
    if (at < 0 || at + field.size > copyBytes(format, layout)) return `the tracepoint's field ${name} lies outside the bytes copied`;
    offsets[name] = at;
  }
  return offsets as FieldOffsets;
}

/** The record bytes the program copies: whole 8-byte words within the record (the kernel refuses to attach a program that reads past it). */
function copyBytes(format: Map<string, { offset: number; size: number }>, layout: EventLayout): number {
  const end = Math.max(...[...format.values()].map((f) => f.offset + f.size)) - layout.recordFrom;
  return Math.max(0, Math.min(layout.recordBytes, Math.floor(end / 8) * 8));
}

export interface KernelOwnersOptions {
  /** Reads a process's name, command line and user (ProcFs.readProcess on /proc). */
  readProcess: (pid: number) => Promise<ProcessInfo | undefined>;
  /** Called when connections owner() could not answer before can now be answered. */
  onFound?: () => void;
  /** Called with the pids of processes that ended, a batch per drain. */
  onExit?: (pids: number[]) => void;
  /** uid → user name, for a process that ended before it could be read. Default: /etc/passwd's (UserNames). */
  userName?: (uid: number) => string | undefined;
  /** Bound on connections remembered (the least recently made are forgotten). */
  maxConnections?: number;
  now?: () => number;
}

/**
 * A process as read when it connected. Connections hold their own reference, so a process
 * read again later (its pid reused after it ended) never changes who made earlier ones.
 */
interface ProcessEntry {
  info: ProcessInfo | undefined; // undefined while the first read is under way
  readAt: number;
  ended: boolean;
}

interface Connecting {
  uid: number;
  process: ProcessEntry;
}

/** A connection the kernel reported, as a /proc row would show it, with its owner. */
export interface LearnedConnection {
  socket: SocketEntry;
  owner: ProcessInfo;
}

export class KernelOwners {
  /** Connections (4-tuple key, see tupleKey) → the process that made them. */
  private readonly connections: BoundedMap<string, Connecting>;
  /** Sockets in SYN_SENT, by kernel address, until their 4-tuple is complete. */
  private readonly connecting = new BoundedMap<bigint, Connecting>(65_536);
  /** The latest read of each pid that connected. */
  private readonly processes = new BoundedMap<number, ProcessEntry>(4096);
  /** Connections completed since the last takeLearned(), oldest first. */
  private learned: Array<{ socket: SocketEntry; process: ProcessEntry }> = [];
  /** Reads of processes under way (processOf). */
  private readonly reading = new Set<Promise<void>>();
  private readonly userName: (uid: number) => string | undefined;
  private readonly now: () => number;
  /**
   * Connections owner() was asked for and could not answer yet (4-tuple key → true): only
   * their answers are worth an onFound, which may cost the caller a pass over its records.
   */
  private readonly asked = new BoundedMap<string, true>(4096);
  private closed = false;
  private wakeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: SocketEventSource,
    private readonly layout: EventLayout,
    private readonly at: FieldOffsets,
    private readonly options: KernelOwnersOptions,
  ) {
    this.connections = new BoundedMap(options.maxConnections ?? 65_536);
    this.now = options.now ?? Date.now;
    const users = options.userName ? undefined : new UserNames();
    this.userName = options.userName ?? ((uid) => users!.name(uid));
    this.watch();
  }

  private watch(): void {
    if (this.closed) return;
    this.source.watch(() => {
      this.drain();
      this.wakeTimer = setTimeout(() => this.watch(), WAKE_GAP_MS);
      this.wakeTimer.unref();
    });
  }

  /** Attaches to the kernel, or says in one line why it cannot. */
  static open(options: KernelOwnersOptions): KernelOwners | { unavailable: string } {
    const loaded = loadNativeAddon();
    if ('error' in loaded) return { unavailable: `the native addon did not load (${loaded.error.message})` };
    const addon = loaded.addon as {
      SocketEvents?: new (tracepoints: number[]) => SocketEventSource;
      socketEventLayout?: EventLayout;
      mountTracefs?: (dir: string) => void;
    };
    if (!addon.SocketEvents || !addon.socketEventLayout || !addon.mountTracefs) return { unavailable: 'the native addon has no socket events' };
    if (inOwnPidNamespace()) return { unavailable: "netmeter runs in a PID namespace of its own, so the kernel's pids are not this /proc's" };
    const dir = findTracepoint(addon.mountTracefs);
    if (typeof dir !== 'string') return dir;
    try {
      const id = Number(readFileSync(join(dir, EVENT_DIR, 'id'), 'utf8'));
      const format = parseTracepointFormat(readFileSync(join(dir, EVENT_DIR, 'format'), 'utf8'));
      const offsets = eventOffsets(format, addon.socketEventLayout);
      if (typeof offsets === 'string') return { unavailable: offsets };
      const tracepoints = [id, KIND_STATE, FILTER_SYN_SENT, format.get('oldstate')!.offset, format.get('newstate')!.offset, copyBytes(format, addon.socketEventLayout)];
      // Exits are a help, not a need: without them an owner's end is seen at the next read.
      if (existsSync(join(dir, EXIT_DIR, 'id'))) {
        const exitId = Number(readFileSync(join(dir, EXIT_DIR, 'id'), 'utf8'));
        const groupDead = parseTracepointFormat(readFileSync(join(dir, EXIT_DIR, 'format'), 'utf8')).get('group_dead');
        if (groupDead?.size === 1) tracepoints.push(exitId, KIND_PROCESS_EXIT, FILTER_NONZERO_BYTE, groupDead.offset, 0, 0);
        else tracepoints.push(exitId, KIND_TASK_EXIT, FILTER_NONE, 0, 0, 0);
      }
      return new KernelOwners(new addon.SocketEvents(tracepoints), addon.socketEventLayout, offsets, options);
    } catch (error) {
      return { unavailable: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * The process that connected from local to remote, when the kernel reported it and its
   * process was read; undefined otherwise (then onFound tells when that changes).
   */
  owner(localAddress: string, localPort: number, remoteAddress: string, remotePort: number): ProcessInfo | undefined {
    this.drain();
    const key = tupleKey(localAddress, localPort, remoteAddress, remotePort);
    const info = this.connections.get(key)?.process.info;
    if (!info) this.asked.set(key, true);
    return info;
  }

  /** Whether pid made a connection the kernel reported (its process was, or is being, read). */
  knowsProcess(pid: number): boolean {
    return this.processes.has(pid);
  }

  /** Takes the events the kernel has reported since the last call. Cheap when there are none. */
  drain(): void {
    if (this.closed) return;
    let answered = false;
    const exited: number[] = [];
    for (let events = this.source.read(); events !== null; events = this.source.read()) {
      for (let at = 0; at + this.layout.size <= events.length; at += this.layout.size) {
        const kind = events.readUInt32LE(at + this.layout.kindAt);
        if (kind === KIND_STATE && this.take(events, at)) answered = true;
        if (kind === KIND_PROCESS_EXIT || kind === KIND_TASK_EXIT) this.takeExit(events, at, kind, exited);
      }
    }
    if (answered) this.options.onFound?.();
    if (exited.length > 0) this.options.onExit?.(exited);
  }

  /**
   * Resolves once the processes of the events reported so far have been read: then
   * takeLearned() holds every connection made until now (a recording stopped right after
   * a connection still embeds its owner).
   */
  async settled(): Promise<void> {
    this.drain();
    while (this.reading.size > 0) await Promise.all(this.reading);
  }

  /**
   * The connections completed since the last call whose process has been read, as socket
   * rows with owners: what a recording embeds so that a replay finds them too. Those whose
   * process is still being read wait for the next call.
   */
  takeLearned(): LearnedConnection[] {
    this.drain();
    const ready: LearnedConnection[] = [];
    const waiting: typeof this.learned = [];
    for (const entry of this.learned) {
      const owner = entry.process.info;
      if (owner) ready.push({ socket: entry.socket, owner });
      else waiting.push(entry);
    }
    this.learned = waiting;
    return ready;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.wakeTimer);
    this.source.close();
  }

  /** One event; true when it answers a connection owner() was asked for. */
  private take(events: Buffer, at: number): boolean {
    const { at: o, layout } = this;
    const socket = events.readBigUInt64LE(at + o.skaddr);
    const oldState = events.readInt32LE(at + o.oldstate);
    const newState = events.readInt32LE(at + o.newstate);
    if (newState === TCP_SYN_SENT) {
      // The task running connect(): the owner. Read its process now, while it surely lives.
      const pid = Number(events.readBigUInt64LE(at + layout.pidAt) >> 32n);
      const uid = events.readUInt32LE(at + layout.uidAt);
      const comm = events.toString('latin1', at + layout.commAt, at + layout.commAt + 16).replace(/\0[^]*$/, '');
      this.connecting.set(socket, { uid, process: this.processOf(pid, uid, comm) });
      return false;
    }
    // Leaving SYN_SENT: established (the tuple is now whole) or refused/timed out.
    const made = this.connecting.get(socket);
    if (oldState !== TCP_SYN_SENT || !made) return false;
    this.connecting.delete(socket);
    if (newState !== TCP_ESTABLISHED) return false;
    const family = events.readUInt16LE(at + o.family);
    let local: string;
    let remote: string;
    if (family === AF_INET) {
      local = formatIpv4(events, at + o.saddr);
      remote = formatIpv4(events, at + o.daddr);
    } else if (family === AF_INET6) {
      local = formatIpv6(events, at + o.saddr_v6);
      remote = formatIpv6(events, at + o.daddr_v6);
    } else {
      return false;
    }
    // Ports are in host order in this tracepoint (the kernel converts them).
    const localPort = events.readUInt16LE(at + o.sport);
    const remotePort = events.readUInt16LE(at + o.dport);
    const key = tupleKey(local, localPort, remote, remotePort);
    this.connections.set(key, made);
    const row: SocketEntry = { protocol: 'tcp', localAddress: local, localPort, remoteAddress: remote, remotePort, inode: 0, uid: made.uid, state: TCP_ESTABLISHED };
    this.learned.push({ socket: row, process: made.process });
    if (this.learned.length > this.connections.max) this.learned.shift();
    return made.process.info !== undefined && this.asked.delete(key);
  }

  /** A process ended (or a thread: then only its main thread's end counts). */
  private takeExit(events: Buffer, at: number, kind: number, exited: number[]): void {
    const task = events.readUInt32LE(at + this.layout.pidAt);
    const pid = events.readUInt32LE(at + this.layout.pidAt + 4);
    if (kind === KIND_TASK_EXIT && task !== pid) return;
    exited.push(pid);
    // Its connections keep naming it (their packets may still be on the way); a new
    // process that gets the pid is read afresh.
    const known = this.processes.get(pid);
    if (known) known.ended = true;
  }

  /**
   * The process behind pid: the last read if it is recent and the process has not ended,
   * else a fresh read (which starts with the last one's answer while the process lives). A
   * process already gone when read keeps what the kernel said of it.
   */
  private processOf(pid: number, uid: number, comm: string): ProcessEntry {
    const known = this.processes.get(pid);
    const alive = known !== undefined && !known.ended;
    if (alive && (known.info === undefined || this.now() - known.readAt < PROCESS_FRESH_MS)) return known;
    const entry: ProcessEntry = { info: alive ? known.info : undefined, readAt: this.now(), ended: false };
    this.processes.set(pid, entry);
    const read = this.options
      .readProcess(pid)
      .catch(() => undefined)
      .then((info) => {
        this.reading.delete(read);
        if (this.closed) return;
        // Gone before it could be read: the kernel's name and uid are all there is.
        entry.info = info ?? { pid, name: comm, cmdline: '', user: this.userName(uid) ?? null, uid };
        entry.readAt = this.now();
        if (this.answersAsked(entry)) this.options.onFound?.();
      });
    this.reading.add(read);
    return entry;
  }

  /** Whether connections owner() was asked for were made by this process (forgetting those asks). */
  private answersAsked(entry: ProcessEntry): boolean {
    let answered = false;
    for (const key of this.asked.keys()) {
      if (this.connections.get(key)?.process !== entry) continue;
      this.asked.delete(key);
      answered = true;
    }
    return answered;
  }
}

/**
 * A Map that forgets its oldest entries past `max`; setting a key again makes it the newest.
 * Not lru-cache: its delete() of the last entry clears the whole cache, filling arrays of
 * `max` slots, and a connection in SYN_SENT is set and deleted alone most of the time
 * (~250 µs a connection with max 65,536, measured).
 */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.max) super.delete(this.keys().next().value as K);
    return this;
  }
}

/** A TCP connection's 4-tuple as text, IPv4-mapped IPv6 addresses as plain IPv4. */
export function tupleKey(localAddress: string, localPort: number, remoteAddress: string, remotePort: number): string {
  return `${unmapIpv4(localAddress) ?? localAddress} ${localPort} ${unmapIpv4(remoteAddress) ?? remoteAddress} ${remotePort}`;
}

/** The tracing directory that holds the tracepoint, mounting tracefs when none is mounted. */
function findTracepoint(mountTracefs: (dir: string) => void): string | { unavailable: string } {
  const missing = { unavailable: 'the kernel has no tracepoint sock:inet_sock_set_state' };
  const found = TRACEFS_DIRS.find((dir) => existsSync(join(dir, EVENT_DIR)));
  if (found) return found;
  if (TRACEFS_DIRS.some((dir) => existsSync(join(dir, 'events')))) return missing;
  try {
    mountTracefs(TRACEFS_DIRS[0]!);
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) };
  }
  return existsSync(join(TRACEFS_DIRS[0]!, EVENT_DIR)) ? TRACEFS_DIRS[0]! : missing;
}

/**
 * Whether this process sees pids other than the kernel's initial namespace (a container):
 * its /proc/self/status NSpid line then lists more than one pid, and the pids eBPF reports
 * would not match this /proc.
 */
function inOwnPidNamespace(): boolean {
  try {
    const line = /^NSpid:(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return line !== null && line[1]!.trim().split(/\s+/).length > 1;
  } catch {
    return false;
  }
}
