// Attribution for live capture: owners from the host's /proc and from the kernel's socket
// events (kernel-owners.ts). With the kernel's socket hooks, /proc is read once at start
// (for the sockets made before), when the kernel dropped events, and when a packet arrives
// for a socket neither knows; the kernel tells of every port bound and connection made
// since, and the two views are joined by docs/design.md's rule (attribution): for a port,
// the newer word wins. Without the hooks (tracepoints only, or /proc only), /proc is also
// re-read every second. Re-reads are debounced, never overlap, and run on a worker thread
// (snapshot-worker.ts), off the packet path; the caller credits the waiting records once a
// read finishes.

import type { Attribution } from '../account/attribution.js';
import type { Cidr } from '../decode/address.js';
import { unmapIpv4 } from '../decode/address.js';
import { systemClock, type Clock } from '../clock.js';
import { KernelOwners, tupleKey, type KernelEventsMode, type KernelOwnersOptions, type LearnedConnection } from './kernel-owners.js';
import { ProcFs } from './proc/proc-fs.js';
import { SnapshotWorker } from './snapshot-worker.js';
import { emptySnapshot, type TcpRead } from './socket-snapshot.js';
import { SocketResolver } from './socket-resolver.js';
import type { ProcessInfo, Protocol, SocketEntry, SocketSnapshot } from './types.js';

/** A process the kernel said ended, and when (seconds since the epoch, as packet times). */
export interface ProcessEnd {
  pid: number;
  at: number;
}

/**
 * Where owners come from, for the help screen and the JSON report: the kernel's socket
 * hooks (with /proc read at start), its tracepoints (with /proc read every second), or /proc
 * alone; and why not the better ones, when not.
 */
export interface OwnerSources {
  kernel: KernelEventsMode | 'none';
  /** Why the socket hooks do not run (kernel is 'tracepoints' or 'none'). */
  hooksUnavailable?: string;
  /** Why no kernel events run at all (kernel is 'none'). */
  kernelUnavailable?: string;
}

export interface LiveAttributionOptions {
  procFs?: ProcFs;
  localCidrs?: Cidr[];
  /** Shortest time between two re-reads prompted by unknown sockets. */
  debounceMs?: number;
  /** Called after every re-read that found a change, e.g. to credit records that were waiting for their owner. */
  onRefresh?: (snapshot: SocketSnapshot) => void;
  /** Called when a re-read fails (a /proc file unreadable); the last good snapshot stays. */
  onError?: (error: unknown) => void;
  /**
   * Reads /proc; resolves to undefined when nothing changed since the last read. `ended`:
   * the pids that ended since the last call, as the kernel reported them; undefined when
   * the kernel's events are not in use. `tcp`: the TCP tables, or only the listeners (timed
   * reads with the kernel's events). Default: the worker thread (SnapshotReader).
   */
  takeSnapshot?: (procFs: ProcFs, ended: readonly number[] | undefined, tcp: TcpRead) => Promise<SocketSnapshot | undefined>;
  /**
   * Opens the kernel's socket events (KernelOwners.open: eBPF), which name the owners of
   * outgoing TCP connections as they connect and report process ends. Not given: no
   * kernel events, /proc alone.
   */
  kernelEvents?: (options: KernelOwnersOptions) => KernelOwners | { unavailable: string };
  /** Wall clock for when processes ended (compared with packet times), monotonic for debouncing. Default: the system's. */
  clock?: Clock;
  /** Called when the kernel named the owners of connections asked about before, e.g. to credit waiting records. */
  onOwnersFound?: () => void;
  /** Called with the processes that ended (from the kernel) and when, in batches at most every ENDS_MS. */
  onProcessesEnded?: (ends: ProcessEnd[]) => void;
}

/**
 * How long process ends are gathered before they are passed on: each batch may cost the
 * caller a pass over its records, and a port that passes to a new process is rarely reused
 * within this time.
 */
const ENDS_MS = 100;
/** How long an end is kept while reads still list the process (its sockets not yet closed). */
const ENDS_KEPT_S = 60;
/**
 * Re-reads of /proc on a timer, behind the prompted ones. Every second even with the kernel's
 * events: they cover TCP connects, not UDP, and a UDP socket that lives a second and sends
 * its burst before any packet of it prompts a read (a prompted read comes 100 ms later, often
 * after the process is gone) is found only by a timed read; so is the listener of a local
 * server that listens, serves and exits within a second (the harness's loopback workload).
 * With the kernel's events, a timed read takes the TCP listeners alone from sock_diag, not
 * the TCP tables, and walks the fds only for news (SnapshotReader).
 */
const PERIODIC_REFRESH_MS = 1000;
/**
 * With the socket hooks, how long sockets the kernel told of wait before they join the
 * snapshot the caller is given (what `record` embeds): the lookups do not wait for it
 * (owner() asks the kernel's ports itself), and each snapshot costs the caller a pass over
 * its records. Only after the kernel told of sockets: an idle host wakes for nothing.
 */
const LEARNED_PUBLISH_MS = 1000;
/** Above any inode the kernel hands out (32 bits), so a made-up one never names a real socket. */
const LEARNED_INODE_BASE = 2 ** 32;
/** Sockets told by the kernel kept beside the last read at most; past this, /proc is read again. */
const MAX_LEARNED_SINCE_READ = 16_384;
/** Ends kept for the next read at most; past this, that read walks every process anyway. */
const MAX_ENDS_FOR_READ = 65_536;

export class LiveAttribution implements Attribution {
  private readonly procFs: ProcFs;
  private readonly resolver: SocketResolver;
  private readonly debounceMs: number;
  private readonly takeSnapshot: NonNullable<LiveAttributionOptions['takeSnapshot']>;
  private readonly worker = new SnapshotWorker();
  private refreshing: Promise<void> | undefined;
  /** Whether the next read reads the TCP tables (asked for since the last read began), not only the listeners. */
  private tcpTablesWanted = false;
  private queued: Promise<void> | undefined;
  private closed = false;
  private recheckingAfterRead = false;
  /** Monotonic milliseconds. */
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private latest: SocketSnapshot | undefined;
  /** The last snapshot read from /proc, without the kernel-learned connections. */
  private fromProc: SocketSnapshot | undefined;
  /** Pids that ended since the last read began (for the reader); undefined: too many to list. */
  private endsForRead: number[] | undefined = [];
  private readonly connects: KernelOwners | undefined;
  /** Sockets the kernel told of since the last read that changed (protocol and 4-tuple → socket and owner). */
  private readonly learnedSinceRead = new Map<string, LearnedConnection>();
  /** Inodes given to connections known only from the kernel (see withLearnedConnections). */
  private readonly learnedInodes = { next: LEARNED_INODE_BASE };
  /** Ends not yet passed on: pid → when (seconds since the epoch). */
  private readonly ended = new Map<number, number>();
  /**
   * Pids the kernel said ended: when (seconds since the epoch, as packets) and which process
   * that was (its start time, as far as the last read knew). Their ports may be another's now.
   */
  private readonly endedAt = new Map<number, { at: number; startTime: number | undefined }>();
  /** The last read's processes by pid. */
  private processesByPid = new Map<number, ProcessInfo>();
  private periodicTimer: NodeJS.Timeout | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  /** When (monotonic ms) the last /proc read that finished began: the kernel's words from after it are newer. */
  private procReadAt = Number.NEGATIVE_INFINITY;
  private endsTimer: NodeJS.Timeout | undefined;
  private foundPending: NodeJS.Immediate | undefined;
  /** Why the kernel's connect events are not used, when they are not (for --debug and the help screen). */
  readonly connectEventsUnavailable: string | undefined;
  /** Where owners come from (the help screen, the JSON report). */
  readonly ownerSources: OwnerSources;
  /** Re-reads prompted by unknown sockets, for the status line and tests. */
  promptedRefreshes = 0;

  constructor(private readonly options: LiveAttributionOptions = {}) {
    this.procFs = options.procFs ?? new ProcFs('/proc');
    this.debounceMs = options.debounceMs ?? 100;
    this.clock = options.clock ?? systemClock;
    this.takeSnapshot = options.takeSnapshot ?? ((fs, ended, tcp) => this.worker.take(fs.root, ended, tcp));
    this.resolver = new SocketResolver(
      emptySnapshot(),
      { localCidrs: options.localCidrs ?? [] },
    );
    const connects =
      options.kernelEvents === undefined
        ? { unavailable: 'not asked for' }
        : options.kernelEvents({
            readProcess: (pid) => this.procFs.readProcess(pid),
            onFound: () => this.ownersFound(),
            onExit: (pids) => this.gatherEnds(pids),
            onLost: () => void this.refresh(),
            onLearned: () => this.publishLearnedSoon(),
            now: () => this.clock.monotonic(),
          });
    if (connects instanceof KernelOwners) {
      this.connects = connects;
      this.ownerSources = { kernel: connects.mode, ...(connects.hooksUnavailable ? { hooksUnavailable: connects.hooksUnavailable } : {}) };
    } else {
      this.connectEventsUnavailable = connects.unavailable;
      this.ownerSources = { kernel: 'none', kernelUnavailable: connects.unavailable };
    }
  }

  /** The most recent snapshot (what `record` embeds), once one was read. */
  get snapshot(): SocketSnapshot | undefined {
    return this.latest;
  }

  isLocal(address: string): boolean {
    return this.resolver.isLocal(address);
  }

  owner(protocol: Protocol, localAddress: string, localPort: number, remoteAddress: string, remotePort: number, at?: number): ProcessInfo | undefined {
    // A connection this host made: /proc's socket if it was read, else the kernel's word,
    // before the listener on the port (which stands in for accepted connections).
    if (protocol === 'tcp' && this.connects) {
      const connected =
        this.resolver.tcpConnectionOwner(localAddress, localPort, remoteAddress, remotePort) ??
        this.connects.owner(localAddress, localPort, remoteAddress, remotePort);
      if (connected) return connected;
    }
    let found = this.resolver.resolve(protocol, localAddress, localPort, remoteAddress, remotePort);
    // A port the kernel saw bound: its binder, unless /proc was read since (then /proc
    // shows who holds the socket now: a child it was handed to, a process it was passed to).
    const bound = this.connects?.boundOwner(protocol, localAddress, localPort);
    if (bound && (!found || bound.at > this.procReadAt)) found = bound.owner;
    // A process that ended holds no port any more, whatever the last read said: a packet
    // captured after its end belongs to whoever took the port (a service restarted on it),
    // which the next read will show. Packets from before its end (the capture runs behind)
    // are still its own.
    const end = found && at !== undefined ? this.endedAt.get(found.pid) : undefined;
    if (end && at! >= end.at && end.startTime === found!.startTime) found = undefined;
    // A miss while the records are re-checked after a read is no news: that read was the
    // fresh look. Asking again there would re-read /proc ten times a second for as long as
    // a socket without owner stays in the table. With the socket hooks too, a miss is a
    // socket made before start or one the hooks do not see (a UDP socket's port given by
    // connect()): /proc tells.
    if (!found && !this.recheckingAfterRead) this.requestRefresh();
    return found;
  }

  /**
   * Re-reads /proc and resolves when a read that started after this call has finished: a
   * read already under way may have begun before the caller's socket existed, so one more
   * is queued behind it (one for all callers that ask meanwhile).
   */
  refresh(): Promise<void> {
    this.tcpTablesWanted = true;
    return this.schedule();
  }

  /** The next read, as refresh() says; what it reads of TCP is what was asked meanwhile. */
  private schedule(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.refreshing) {
      this.refreshing = this.readOnce().finally(() => (this.refreshing = undefined));
      return this.refreshing;
    }
    this.queued ??= this.refreshing.then(() => {
      this.queued = undefined;
      return this.schedule();
    });
    return this.queued;
  }

  /** A prompt re-read for an unknown socket: at most one per debounce period. */
  requestRefresh(): void {
    if (this.timer || this.queued || this.closed) return;
    const wait = Math.max(0, this.lastRefreshAt + this.debounceMs - this.clock.monotonic());
    this.promptedRefreshes++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, wait);
    this.timer.unref();
  }

  /**
   * Passes the kernel's answers on once the current task is done: they may come from inside
   * owner(), while the meter is opening a record, which is no time to re-check records.
   */
  private ownersFound(): void {
    if (this.foundPending || !this.options.onOwnersFound) return;
    this.foundPending = setImmediate(() => {
      this.foundPending = undefined;
      if (!this.closed) this.options.onOwnersFound?.();
    });
  }

  private gatherEnds(allPids: number[]): void {
    // Most ends on a busy host are of processes that held no socket (compilers, shells): they
    // change nothing here, and passing them on costs the meter a pass over its records each.
    // While a read is under way its processes are not known yet, so every end is kept then.
    const pids = this.refreshing ? allPids : allPids.filter((pid) => this.processesByPid.has(pid) || this.connects?.knowsProcess(pid));
    if (pids.length === 0) return;
    if (this.endsForRead && this.endsForRead.length + pids.length <= MAX_ENDS_FOR_READ) this.endsForRead.push(...pids);
    else this.endsForRead = undefined;
    if (!this.options.onProcessesEnded) return;
    // Stamped when the kernel's event is taken (KernelOwners: at most WAKE_GAP_MS after the end).
    const now = this.clock.now() / 1000;
    for (const pid of pids) {
      this.ended.set(pid, now);
      this.endedAt.set(pid, { at: now, startTime: this.processesByPid.get(pid)?.startTime });
    }
    this.endsTimer ??= setTimeout(() => {
      this.endsTimer = undefined;
      const ended = [...this.ended].map(([pid, at]) => ({ pid, at }));
      this.ended.clear();
      if (!this.closed) this.options.onProcessesEnded?.(ended);
    }, ENDS_MS);
    this.endsTimer.unref();
  }

  /** No more reads start, and none under way reports after this. */
  close(): void {
    this.closed = true;
    void this.worker.close();
    clearTimeout(this.endsTimer);
    clearInterval(this.periodicTimer);
    clearTimeout(this.publishTimer);
    if (this.foundPending) clearImmediate(this.foundPending);
    this.connects?.close();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Starts the timed re-reads (PERIODIC_REFRESH_MS); close() stops them. With the kernel's
   * socket hooks there are none: the kernel tells of each new socket.
   */
  startPeriodicRefresh(): void {
    if (this.periodicTimer || this.closed || this.connects?.mode === 'socket hooks') return;
    // A timed read takes only the TCP listeners when the kernel reports connects (see
    // SnapshotReader.read); a prompted or explicit one reads the TCP tables.
    this.periodicTimer = setInterval(() => void this.schedule(), PERIODIC_REFRESH_MS);
    this.periodicTimer.unref();
  }

  private async readOnce(): Promise<void> {
    this.lastRefreshAt = this.clock.monotonic();
    const startedAt = this.clock.now();
    // Without the kernel's events, no end is heard of: the reader must look at every process.
    const ended = this.connects ? this.endsForRead : undefined;
    this.endsForRead = [];
    const tcp: TcpRead = this.connects && !this.tcpTablesWanted ? 'listeners' : 'tables';
    this.tcpTablesWanted = false;
    try {
      const fresh = await this.takeSnapshot(this.procFs, ended, tcp);
      if (this.closed) return;
      if (fresh) {
        this.fromProc = fresh;
        this.processesByPid = new Map(fresh.processes.map((p) => [p.pid, p]));
      }
      this.procReadAt = Math.max(this.procReadAt, this.lastRefreshAt);
      // The owners of connections the kernel reported before this read are read by now.
      await this.connects?.settled();
      if (this.closed) return;
      const learned = this.connects?.takeLearned() ?? [];
      // What the kernel told of before this read began and /proc lists no more is closed.
      if (fresh) this.learnedSinceRead.clear();
      this.forgetEndsNoLongerListed(startedAt);
      // Nothing new: the resolver, and every record waiting for an owner, stay as they are.
      if ((!fresh && learned.length === 0) || !this.fromProc) return;
      this.publish(this.fromProc, learned);
    } catch (error) {
      // The reader did not hear of these ends: the next read tells it (or walks anyway).
      if (ended && this.endsForRead) this.endsForRead.unshift(...ended);
      if (tcp === 'tables') this.tcpTablesWanted = true;
      // A read cut short by close() is no failure worth a word.
      if (!this.closed) this.options.onError?.(error);
    }
  }

  /**
   * With the socket hooks, the sockets the kernel told of join the snapshot at most
   * LEARNED_PUBLISH_MS later, without a read of /proc (without the hooks, the timed reads
   * take them in).
   */
  private publishLearnedSoon(): void {
    if (this.publishTimer || this.closed || this.connects?.mode !== 'socket hooks') return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      void this.publishLearned();
    }, LEARNED_PUBLISH_MS);
    this.publishTimer.unref();
  }

  private async publishLearned(): Promise<void> {
    // A read under way takes them in itself.
    if (this.refreshing || !this.connects || !this.fromProc) return;
    await this.connects.settled();
    if (this.closed || this.refreshing || !this.fromProc) return;
    const learned = this.connects.takeLearned();
    if (learned.length === 0) return;
    this.publish(this.fromProc, learned);
  }

  /** The /proc snapshot with the sockets the kernel told of since it was read: to the resolver and the caller. */
  private publish(fromProc: SocketSnapshot, learned: LearnedConnection[]): void {
    for (const entry of learned) this.learnedSinceRead.set(`${entry.socket.protocol} ${tupleText(entry.socket)}`, entry);
    const snapshot = withLearnedConnections(fromProc, [...this.learnedSinceRead.values()], this.learnedInodes);
    this.resolver.update(snapshot);
    this.latest = snapshot;
    this.recheckingAfterRead = true;
    try {
      this.options.onRefresh?.(snapshot);
    } finally {
      this.recheckingAfterRead = false;
    }
    // Sockets long closed pile up without reads: a read of /proc starts the list afresh.
    if (this.learnedSinceRead.size > MAX_LEARNED_SINCE_READ) void this.refresh();
  }

  /**
   * An end is kept until a read no longer lists that process: the kernel reports the end
   * before the process's sockets are closed, so a read begun just after may still list them
   * (this made the restarted-service workload fail 3 runs in 8). A minute bounds it.
   */
  private forgetEndsNoLongerListed(readStartedAt: number): void {
    for (const [pid, end] of this.endedAt) {
      const listed = this.processesByPid.get(pid);
      if (!listed || listed.startTime !== end.startTime || readStartedAt / 1000 - end.at > ENDS_KEPT_S) this.endedAt.delete(pid);
    }
  }
}

/**
 * The snapshot plus the connections and bound ports the kernel reported that /proc did not
 * list (they closed before the read, or were made after it), each as a socket row with a
 * made-up inode and its owner: so the resolver and a recording's embedded snapshots know
 * them like any other socket. Only sockets on one of the snapshot's addresses (or a
 * wildcard): a kernel that cannot tell namespaces apart reports every network namespace's,
 * and another namespace's client must not make its address (and so its bytes) ours.
 */
export function withLearnedConnections(snapshot: SocketSnapshot, learned: LearnedConnection[], inodes: { next: number }): SocketSnapshot {
  if (learned.length === 0) return snapshot;
  const listed = new Set(snapshot.sockets.map((s) => `${s.protocol} ${tupleText(s)}`));
  const ours = new Set(snapshot.localAddresses.map((a) => unmapIpv4(a) ?? a));
  const pids = new Set(snapshot.processes.map((p) => p.pid));
  const sockets = [...snapshot.sockets];
  const owners = [...snapshot.owners];
  const processes = [...snapshot.processes];
  for (const { socket, owner } of learned) {
    const local = unmapIpv4(socket.localAddress) ?? socket.localAddress;
    if (listed.has(`${socket.protocol} ${tupleText(socket)}`) || !(ours.has(local) || local === '0.0.0.0' || local === '::')) continue;
    const inode = inodes.next++;
    sockets.push({ ...socket, inode });
    owners.push([inode, [owner.pid]]);
    if (!pids.has(owner.pid)) {
      pids.add(owner.pid);
      processes.push(owner);
    }
  }
  return { ...snapshot, sockets, owners, processes };
}

function tupleText(s: SocketEntry): string {
  return tupleKey(s.localAddress, s.localPort, s.remoteAddress, s.remotePort);
}
