// Socket owners as the kernel reports them, so that /proc is read once at start rather than
// every second. netmeter's BPF programs (native/bpf/socket_owners.bpf.c, loaded by the addon
// with libbpf) report, with the process that made the call:
// - with the socket hooks (cgroup sock hooks on the root cgroup): every TCP or UDP port
//   bound (bind(), with the port the kernel chose) and every UDP socket's first send (the
//   port an unbound socket was given then): a server that lives less than a second, or a UDP
//   client, keeps its owner without any read of /proc;
// - with the tracepoints (the fallback where the hooks cannot load, and part of the full
//   set): every TCP listen(), every TCP state change into or out of SYN_SENT (a client
//   connection that opens and closes between two reads is found by it: connect() enters
//   SYN_SENT in the calling process, so that event names the owner; its source port may
//   still be 0 then, so the owner is joined to the full 4-tuple by the socket's kernel
//   address when the connection leaves SYN_SENT), and the end of every process: its sockets
//   may pass to another (a service restarted on the same port), which the caller learns in
//   time to keep the two apart.
//
// Where the kernel cannot do this (no BPF, no BTF, missing capabilities, a PID namespace of
// its own), open() says why and attribution keeps to /proc.

import { UserNames } from './proc/user-names.js';
import { mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIpv4, formatIpv6, unmapIpv4 } from '../decode/address.js';
import { loadNativeAddon, packagePath } from '../native-addon.js';
import type { ProcessInfo, Protocol, SocketEntry } from './types.js';

const TCP_ESTABLISHED = 1;
const TCP_SYN_SENT = 2;
const TCP_LISTEN = 10;
const UDP_UNCONNECTED = 7;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
// Event kinds, as native/bpf/socket_owner_event.h numbers them.
const KIND_STATE = 1;
const KIND_PROCESS_EXIT = 2; // the last thread of a process ended
const KIND_BOUND = 4; // a socket has its local end: bind(), listen(), a UDP socket's send
/** How long a process read from /proc is trusted for a new connection of the same pid. */
const PROCESS_FRESH_MS = 1000;
/**
 * The least time between two wake-ups for the kernel's events. Events are taken as they come
 * (an idle host costs nothing: no timer), so that a connecting process is read while it
 * lives (one that ends sooner keeps the name and uid the kernel gave); under a storm of
 * connects one wake-up then takes the events of many. The 1 MiB ring holds ~10,000 events.
 */
export const WAKE_GAP_MS = 10;
/** The shipped BPF object, built from native/bpf/socket_owners.bpf.c (npm run build:bpf). */
const BPF_OBJECT = ['native', 'bpf', 'socket_owners.bpf.o'];

/**
 * Which of the kernel's programs run: 'socket hooks' (the cgroup hooks and the
 * tracepoints), 'tracepoints' (connects, listens and process ends only).
 */
export type KernelEventsMode = 'socket hooks' | 'tracepoints';

/** What the addon's SocketEvents gives: whole events laid out as socketEventLayout says. */
export interface SocketEventSource {
  read(): Buffer | null;
  /** Calls onReady once, on the event loop, when events wait (the ring's fd through libuv). */
  watch(onReady: () => void): void;
  /** Events the kernel dropped since loading because the ring was full. */
  lost(): number;
  close(): void;
}

/** Where each field sits in an event (native/bpf/socket_owner_event.h, from the addon). */
export interface EventLayout {
  size: number;
  sockAt: number;
  pidAt: number;
  uidAt: number;
  netnsAt: number;
  kindAt: number;
  oldStateAt: number;
  newStateAt: number;
  familyAt: number;
  protocolAt: number;
  localPortAt: number;
  remotePortAt: number;
  localAddressAt: number;
  remoteAddressAt: number;
  commAt: number;
}

export interface KernelOwnersOptions {
  /** Reads a process's name, command line and user (ProcFs.readProcess on /proc). */
  readProcess: (pid: number) => Promise<ProcessInfo | undefined>;
  /** Called when connections owner() could not answer before can now be answered. */
  onFound?: () => void;
  /** Called with the pids of processes that ended, a batch per drain. */
  onExit?: (pids: number[]) => void;
  /** Called when the ring was full and the kernel dropped events: what they said is to be read from /proc. */
  onLost?: () => void;
  /** Called when the kernel told of sockets (takeLearned() has them once their processes are read). */
  onLearned?: () => void;
  /** uid → user name, for a process that ended before it could be read. Default: /etc/passwd's (UserNames). */
  userName?: (uid: number) => string | undefined;
  /** Bound on connections and ports remembered (the least recently made are forgotten). */
  maxConnections?: number;
  /** Milliseconds, monotonic: when an event was taken (boundOwner's `at`). */
  now?: () => number;
}

/** Which programs to load (NETMETER_KERNEL_EVENTS): all, the tracepoints alone, or none. */
export type KernelEventsChoice = 'all' | 'tracepoints' | 'off';

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

/** A port bound, as the kernel told it: who bound it, and when the event was taken. */
interface Binding extends Connecting {
  at: number;
}

/** A connection the kernel reported, as a /proc row would show it, with its owner. */
export interface LearnedConnection {
  socket: SocketEntry;
  owner: ProcessInfo;
}

export class KernelOwners {
  /** Connections (4-tuple key, see tupleKey) → the process that made them. */
  private readonly connections: BoundedMap<string, Connecting>;
  /** Ports bound ("protocol port" → local address → the latest binding). */
  private readonly ports: BoundedMap<string, Map<string, Binding>>;
  /** Sockets in SYN_SENT, by kernel address, until their 4-tuple is complete. */
  private readonly connecting = new BoundedMap<bigint, Connecting>(65_536);
  /** The latest read of each pid that connected. */
  private readonly processes = new BoundedMap<number, ProcessEntry>(4096);
  /** Connections completed and ports bound since the last takeLearned(), oldest first. */
  private learned: Array<{ socket: SocketEntry; process: ProcessEntry }> = [];
  /** Reads of processes under way (processOf). */
  private readonly reading = new Set<Promise<void>>();
  private readonly userName: (uid: number) => string | undefined;
  private readonly now: () => number;
  /**
   * Connections (tupleKey) and ports ("protocol port") owner() and boundOwner() were asked
   * for and could not answer yet: only their answers are worth an onFound, which may cost
   * the caller a pass over its records.
   */
  private readonly asked = new BoundedMap<string, true>(4096);
  private lostSeen = 0;
  private closed = false;
  private wakeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: SocketEventSource,
    private readonly layout: EventLayout,
    private readonly options: KernelOwnersOptions,
    /** Which programs run (for the help screen and the JSON report). */
    readonly mode: KernelEventsMode = 'tracepoints',
    /** Why the socket hooks are not running, when mode is 'tracepoints'. */
    readonly hooksUnavailable?: string,
  ) {
    this.connections = new BoundedMap(options.maxConnections ?? 65_536);
    this.ports = new BoundedMap(options.maxConnections ?? 65_536);
    this.now = options.now ?? (() => performance.now());
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

  /**
   * Loads the kernel's programs: the socket hooks and the tracepoints, else the tracepoints
   * alone, else says in one line why neither. choice: NETMETER_KERNEL_EVENTS, to force a
   * fallback (the tests of each path, or a kernel whose hooks misbehave).
   */
  static open(options: KernelOwnersOptions, choice: KernelEventsChoice = 'all'): KernelOwners | { unavailable: string } {
    if (choice === 'off') return { unavailable: 'turned off (NETMETER_KERNEL_EVENTS=off)' };
    const loaded = loadNativeAddon();
    if ('error' in loaded) return { unavailable: `the native addon did not load (${loaded.error.message})` };
    const addon = loaded.addon as {
      SocketEvents?: new (object: Buffer, cgroup: string | null) => SocketEventSource;
      socketEventLayout?: EventLayout;
      mountCgroup2?: (dir: string) => void;
      unmountCgroup2?: (dir: string) => void;
    };
    if (!addon.SocketEvents || !addon.socketEventLayout) return { unavailable: 'the native addon has no socket events' };
    if (inOwnPidNamespace()) return { unavailable: "netmeter runs in a PID namespace of its own, so the kernel's pids are not this /proc's" };
    let object: Buffer;
    try {
      object = readFileSync(packagePath(...BPF_OBJECT));
    } catch (error) {
      return { unavailable: `the BPF object is missing (${error instanceof Error ? error.message : String(error)})` };
    }
    let hooksUnavailable = choice === 'tracepoints' ? 'turned off (NETMETER_KERNEL_EVENTS=tracepoints)' : undefined;
    if (hooksUnavailable === undefined) {
      const cgroup = rootCgroup(addon.mountCgroup2, addon.unmountCgroup2);
      if ('dir' in cgroup) {
        try {
          return new KernelOwners(new addon.SocketEvents(object, cgroup.dir), addon.socketEventLayout, options, 'socket hooks');
        } catch (error) {
          hooksUnavailable = error instanceof Error ? error.message : String(error);
        } finally {
          // The attached hooks hold the cgroup itself, not the mount.
          cgroup.release();
        }
      } else {
        hooksUnavailable = cgroup.unavailable;
      }
    }
    try {
      return new KernelOwners(new addon.SocketEvents(object, null), addon.socketEventLayout, options, 'tracepoints', hooksUnavailable);
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

  /** Whether pid bound, listened or connected as the kernel reported (its process was, or is being, read). */
  knowsProcess(pid: number): boolean {
    return this.processes.has(pid);
  }

  /**
   * The process that last bound the port that takes a packet to this local end (the exact
   * address, else the wildcard of its family, else for IPv4 the IPv6 wildcard, as the
   * kernel delivers), and when (now()'s clock) the kernel told it; undefined when the kernel
   * told of none, or its process is still being read (then onFound tells when that changes).
   */
  boundOwner(protocol: Protocol, localAddress: string, localPort: number): { owner: ProcessInfo; at: number } | undefined {
    this.drain();
    const key = `${protocol} ${localPort}`;
    const byAddress = this.ports.get(key);
    if (!byAddress) return undefined;
    const local = unmapIpv4(localAddress) ?? localAddress;
    const binding = byAddress.get(local) ?? (local.includes(':') ? byAddress.get('::') : (byAddress.get('0.0.0.0') ?? byAddress.get('::')));
    const owner = binding?.process.info;
    if (!owner) {
      if (binding) this.asked.set(key, true);
      return undefined;
    }
    return { owner, at: binding.at };
  }

  /** Takes the events the kernel has reported since the last call. Cheap when there are none. */
  drain(): void {
    if (this.closed) return;
    let answered = false;
    let learned = false;
    const exited: number[] = [];
    for (let events = this.source.read(); events !== null; events = this.source.read()) {
      for (let at = 0; at + this.layout.size <= events.length; at += this.layout.size) {
        const kind = events.readUInt32LE(at + this.layout.kindAt);
        if (kind === KIND_STATE) {
          const taken = this.take(events, at);
          answered ||= taken === 'answered';
          learned ||= taken !== false;
        } else if (kind === KIND_BOUND) {
          answered = this.takeBound(events, at) || answered;
          learned = true;
        } else if (kind === KIND_PROCESS_EXIT) {
          this.takeExit(events, at, exited);
        }
      }
    }
    const lost = this.source.lost();
    if (lost > this.lostSeen) {
      this.lostSeen = lost;
      this.options.onLost?.();
    }
    if (answered) this.options.onFound?.();
    if (learned) this.options.onLearned?.();
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
   * The connections completed and ports bound since the last call whose process has been
   * read, as socket rows with owners: what a recording embeds so that a replay finds them
   * too. Those whose process is still being read wait for the next call.
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

  /** The task that made the call an event tells of: its process, read now, while it surely lives. */
  private caller(events: Buffer, at: number): Connecting {
    const { layout } = this;
    const pid = Number(events.readBigUInt64LE(at + layout.pidAt) >> 32n);
    const uid = events.readUInt32LE(at + layout.uidAt);
    const comm = events.toString('latin1', at + layout.commAt, at + layout.commAt + 16).replace(/\0[^]*$/, '');
    return { uid, process: this.processOf(pid, uid, comm) };
  }

  /** An event's address (local or remote: the field's offset), as text; undefined for another family. */
  private address(events: Buffer, at: number, field: number): string | undefined {
    const family = events.readUInt16LE(at + this.layout.familyAt);
    if (family === AF_INET) return formatIpv4(events, at + field);
    if (family === AF_INET6) return formatIpv6(events, at + field);
    return undefined;
  }

  /**
   * A TCP state change; 'answered' when it answers a connection owner() was asked for,
   * true when it completed a connection, false otherwise.
   */
  private take(events: Buffer, at: number): 'answered' | boolean {
    const { layout } = this;
    const socket = events.readBigUInt64LE(at + layout.sockAt);
    const oldState = events.readInt32LE(at + layout.oldStateAt);
    const newState = events.readInt32LE(at + layout.newStateAt);
    if (newState === TCP_SYN_SENT) {
      this.connecting.set(socket, this.caller(events, at));
      return false;
    }
    // Leaving SYN_SENT: established (the tuple is now whole) or refused/timed out.
    const made = this.connecting.get(socket);
    if (oldState !== TCP_SYN_SENT || !made) return false;
    this.connecting.delete(socket);
    if (newState !== TCP_ESTABLISHED) return false;
    const local = this.address(events, at, layout.localAddressAt);
    const remote = this.address(events, at, layout.remoteAddressAt);
    if (local === undefined || remote === undefined) return false;
    const localPort = events.readUInt16LE(at + layout.localPortAt);
    const remotePort = events.readUInt16LE(at + layout.remotePortAt);
    const key = tupleKey(local, localPort, remote, remotePort);
    this.connections.set(key, made);
    const row: SocketEntry = { protocol: 'tcp', localAddress: local, localPort, remoteAddress: remote, remotePort, inode: 0, uid: made.uid, state: TCP_ESTABLISHED };
    this.remember(row, made.process);
    return made.process.info !== undefined && this.asked.delete(key) ? 'answered' : true;
  }

  /** A port bound (or listened on, or sent from); true when it answers a port boundOwner() was asked for. */
  private takeBound(events: Buffer, at: number): boolean {
    const { layout } = this;
    const number = events.readUInt16LE(at + layout.protocolAt);
    const protocol: Protocol | undefined = number === IPPROTO_TCP ? 'tcp' : number === IPPROTO_UDP ? 'udp' : undefined;
    const local = this.address(events, at, layout.localAddressAt);
    const localPort = events.readUInt16LE(at + layout.localPortAt);
    if (!protocol || local === undefined || localPort === 0) return false;
    // A TCP bind() alone names no port anything arrives on: the listen() that follows does
    // (or the connect(), which the SYN_SENT events cover).
    const listening = protocol === 'udp' || events.readInt32LE(at + layout.newStateAt) === TCP_LISTEN;
    if (!listening) return false;
    const binding: Binding = { ...this.caller(events, at), at: this.now() };
    const key = `${protocol} ${localPort}`;
    const address = unmapIpv4(local) ?? local;
    const byAddress = this.ports.get(key) ?? new Map<string, Binding>();
    byAddress.set(address, binding);
    this.ports.set(key, byAddress);
    const wildcard = local.includes(':') ? '::' : '0.0.0.0';
    const row: SocketEntry = { protocol, localAddress: local, localPort, remoteAddress: wildcard, remotePort: 0, inode: 0, uid: binding.uid, state: protocol === 'tcp' ? TCP_LISTEN : UDP_UNCONNECTED };
    this.remember(row, binding.process);
    return binding.process.info !== undefined && this.asked.delete(key);
  }

  private remember(socket: SocketEntry, process: ProcessEntry): void {
    this.learned.push({ socket, process });
    if (this.learned.length > this.connections.max) this.learned.shift();
  }

  /** A process ended (the kernel tells only of a process's last thread). */
  private takeExit(events: Buffer, at: number, exited: number[]): void {
    const pid = events.readUInt32LE(at + this.layout.pidAt + 4);
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
      const made = this.connections.get(key) ?? this.ports.get(key);
      const byEntry = made instanceof Map ? [...made.values()].some((b) => b.process === entry) : made?.process === entry;
      if (!byEntry) continue;
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

/**
 * The root of the cgroup v2 hierarchy, where the socket hooks attach (every process is below
 * it): /sys/fs/cgroup on a unified system, /sys/fs/cgroup/unified on a hybrid one. Where this
 * mount namespace shows none (`ip netns exec` mounts a fresh /sys), it is mounted on a
 * directory of its own for as long as the hooks take to attach (release() takes it away).
 */
function rootCgroup(mount?: (dir: string) => void, unmount?: (dir: string) => void): { dir: string; release: () => void } | { unavailable: string } {
  const own = cgroup2MountPoint('/proc/self/mountinfo');
  if (own !== undefined) return { dir: own, release: () => {} };
  const missing = 'no cgroup v2 hierarchy is mounted (the socket hooks attach to its root)';
  if (!mount || !unmount) return { unavailable: missing };
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'netmeter-cgroup-'));
    mount(dir);
  } catch (error) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    return { unavailable: `${missing}; ${error instanceof Error ? error.message : String(error)}` };
  }
  const mounted = dir;
  return {
    dir: mounted,
    release: () => {
      try {
        unmount(mounted);
        rmdirSync(mounted);
      } catch {
        // A mount left behind in a private mount namespace goes with it.
      }
    },
  };
}

/** Where a mount table (mountinfo) has the root of a cgroup2 file system, if anywhere. */
function cgroup2MountPoint(mountinfo: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options ... - fstype source super-options
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash > 0 && fields[dash + 1] === 'cgroup2' && fields[3] === '/') return fields[4]!.replace(/\\040/g, ' ');
  }
  return undefined;
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
