// The JSON document of docs/design.md (version 1), built from the meter's state. Every other
// output (table, Ink screen, metrics) is drawn from this one shape.

import type { OwnerSources } from '../attribute/live-attribution.js';
import type { Meter, ConnectionRecord } from '../account/meter.js';
import { processKey } from '../attribute/process-key.js';
import { Traffic } from '../account/counters.js';
import type { ProcessInfo, Protocol } from '../attribute/types.js';
import { OtherReason } from '../decode/decoded-packet.js';

export interface ProcessUsage {
  /** `--by host`: the subscriber (address or IPv6 prefix) this row is; pid is then null and name the host. */
  host?: string;
  pid: number | null;
  name: string;
  cmdline: string;
  user: string | null;
  sentBytes: number;
  receivedBytes: number;
  sentPackets: number;
  receivedPackets: number;
  sentRate: number;
  receivedRate: number;
  /** Executable path, when known: the applications view groups by it. */
  exe?: string;
  /** The process has exited; its totals stay. */
  exited?: boolean;
  /**
   * Live only: seconds since the process last sent or received a byte (0 while it does),
   * so the screen can let exited processes that went quiet leave rate mode (view-rows.ts).
   */
  idleSeconds?: number;
}

export interface ConnectionUsage {
  protocol: Protocol;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  pid: number | null;
  name: string | null;
  /** `--by host`: the local end's subscriber. */
  host?: string;
  sentBytes: number;
  receivedBytes: number;
  sentPackets: number;
  receivedPackets: number;
  packets: number;
  /** Bytes per second over the last interval (live only). */
  sentRate?: number;
  receivedRate?: number;
  /** Capture interface of the connection's first packet. */
  interface?: string;
  /** Live: the remote host's name, from a DNS answer seen in the capture or a reverse lookup (absent with --no-resolve). */
  remoteName?: string;
}

export interface BucketUsage {
  packets: number;
  bytes: number;
  sentBytes: number;
  receivedBytes: number;
  sentPackets: number;
  receivedPackets: number;
}

export interface InterfaceUsage {
  name: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  /** Live only: the kernel's own counters (/sys/class/net/IF/statistics) since start, and rates over the last interval. */
  kernelRxBytes?: number;
  kernelTxBytes?: number;
  rxRate?: number;
  txRate?: number;
  kernelRxRate?: number;
  kernelTxRate?: number;
  /** Packets the capture lost (kernel or interface drops), when the engine can tell. */
  droppedPackets?: number;
}

export interface UsageReport {
  version: 1;
  /** `--by host`: the rows of `processes` are subscribers (docs/design.md, JSON contracts). */
  by?: 'host';
  source: { kind: 'live' | 'pcap' | 'pcapng'; path?: string; interfaces: string[]; packets: number; bytes: number; error?: string; owners?: OwnerSources };
  /** Seconds covered: first to last packet in a replay, the run so far live. */
  durationSeconds: number;
  totals: { packets: number; bytes: number; sentBytes: number; receivedBytes: number; sentPackets: number; receivedPackets: number };
  processes: ProcessUsage[];
  connections: ConnectionUsage[];
  unknown: BucketUsage;
  other: BucketUsage & { byReason: Record<string, { packets: number; bytes: number }> };
  interfaces: InterfaceUsage[];
  /** Records retired from the bounded flow table: their bytes are in processes and unknown, not in connections. */
  retiredConnections: number;
  /**
   * Live only: interfaces that carry traffic of this host but are not captured (loopback,
   * left out unless named), from the kernel's counters alone, so the screen can say so.
   */
  uncapturedInterfaces?: UncapturedInterfaceUsage[];
  /** Live, per interval: what this interval alone added to `totals`, and its length. */
  interval?: IntervalUsage;
}

export interface IntervalUsage extends BucketUsage {
  seconds: number;
}

/** An interface's kernel counters since start (and rates over the last interval); nothing of it was captured. */
export interface UncapturedInterfaceUsage {
  name: string;
  rxBytes: number;
  txBytes: number;
  rxRate?: number;
  txRate?: number;
}

export interface ReportSource {
  kind: 'live' | 'pcap' | 'pcapng';
  path?: string;
  interfaces: string[];
  error?: string;
}

const REASON_NAMES: Record<number, string> = {
  [OtherReason.NOT_IP]: 'notIp',
  [OtherReason.OTHER_PROTOCOL]: 'otherProtocol',
  [OtherReason.LATER_FRAGMENT]: 'laterFragment',
  [OtherReason.MALFORMED]: 'malformed',
  [OtherReason.UNKNOWN_LINK_TYPE]: 'unknownLinkType',
};

/**
 * Builds the report. `rateSeconds` is the interval rates are taken over; for a single
 * document covering a whole replay it is the capture's duration.
 */
/**
 * Orders texts by their UTF-16 code units: the same everywhere, for keys and names alike.
 * (localeCompare brings ICU's collation into memory — 2.4 MB more of node's binary resident,
 * measured alone — for what is only a tie-breaker between rows.)
 */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function buildUsageReport(meter: Meter, source: ReportSource, rateSeconds: number): UsageReport {
  const byProcess = new Map<string, { process: ProcessInfo; traffic: Traffic }>();
  const unknown = new Traffic();
  for (const retired of meter.retired.values()) {
    if (!retired.process) {
      unknown.addTraffic(retired.traffic);
      continue;
    }
    const key = processKey(retired.process);
    let entry = byProcess.get(key);
    if (!entry) byProcess.set(key, (entry = { process: retired.process, traffic: new Traffic() }));
    entry.traffic.addTraffic(retired.traffic);
  }
  const connections: ConnectionUsage[] = [];
  for (const record of meter.records()) {
    connections.push(connectionUsage(record));
    if (!record.owner) {
      unknown.addTraffic(record);
      continue;
    }
    const key = processKey(record.owner);
    let entry = byProcess.get(key);
    if (!entry) byProcess.set(key, (entry = { process: record.owner, traffic: new Traffic() }));
    entry.traffic.addTraffic(record);
  }
  const rate = (bytes: number) => (rateSeconds > 0 ? bytes / rateSeconds : 0);
  const processes: ProcessUsage[] = [...byProcess.values()].map(({ process, traffic }) => ({
    ...(process.host !== undefined ? { host: process.host } : {}),
    pid: process.host !== undefined ? null : process.pid,
    name: process.name,
    cmdline: process.cmdline,
    user: process.user,
    sentBytes: traffic.sent.bytes,
    receivedBytes: traffic.received.bytes,
    sentPackets: traffic.sent.packets,
    receivedPackets: traffic.received.packets,
    sentRate: rate(traffic.sent.bytes),
    receivedRate: rate(traffic.received.bytes),
    // The applications view groups a program's processes by it (view-rows.ts).
    ...(process.exe ? { exe: process.exe } : {}),
  }));
  processes.sort((x, y) => y.sentBytes + y.receivedBytes - (x.sentBytes + x.receivedBytes) || (x.pid ?? 0) - (y.pid ?? 0));
  connections.sort(
    (x, y) => y.sentBytes + y.receivedBytes - (x.sentBytes + x.receivedBytes) || byCodeUnits(connectionKey(x), connectionKey(y)),
  );
  const byReason: Record<string, { packets: number; bytes: number }> = {};
  // "other" counts each packet once, even one that is both sent and received (loopback ICMP).
  const otherOnce = { packets: 0, bytes: 0 };
  for (const [reason, counter] of meter.otherByReason) {
    otherOnce.packets += counter.packets;
    otherOnce.bytes += counter.bytes;
    byReason[REASON_NAMES[reason] ?? `reason${reason}`] = { packets: counter.packets, bytes: counter.bytes };
  }
  return {
    version: 1,
    source: {
      kind: source.kind,
      ...(source.path === undefined ? {} : { path: source.path }),
      interfaces: source.interfaces,
      packets: meter.captured.packets,
      bytes: meter.captured.bytes,
      ...(source.error === undefined ? {} : { error: source.error }),
    },
    durationSeconds: Number.isFinite(meter.lastTimestamp - meter.firstTimestamp) ? meter.lastTimestamp - meter.firstTimestamp : 0,
    totals: {
      packets: meter.captured.packets,
      bytes: meter.captured.bytes,
      sentBytes: meter.totals.sent.bytes,
      receivedBytes: meter.totals.received.bytes,
      sentPackets: meter.totals.sent.packets,
      receivedPackets: meter.totals.received.packets,
    },
    processes,
    connections,
    unknown: bucket(unknown),
    other: { ...bucket(meter.other), ...otherOnce, byReason },
    interfaces: [...meter.interfaces].map(([name, traffic]) => ({
      name,
      rxBytes: traffic.received.bytes,
      txBytes: traffic.sent.bytes,
      rxPackets: traffic.received.packets,
      txPackets: traffic.sent.packets,
    })),
    retiredConnections: meter.retiredConnections,
  };
}

function connectionUsage(record: ConnectionRecord): ConnectionUsage {
  return {
    protocol: record.protocol,
    localAddress: record.localAddress,
    localPort: record.localPort,
    remoteAddress: record.remoteAddress,
    remotePort: record.remotePort,
    pid: record.owner?.host !== undefined ? null : (record.owner?.pid ?? null),
    name: record.owner?.name ?? null,
    ...(record.owner?.host !== undefined ? { host: record.owner.host } : {}),
    sentBytes: record.sent.bytes,
    receivedBytes: record.received.bytes,
    sentPackets: record.sent.packets,
    receivedPackets: record.received.packets,
    packets: record.sent.packets + record.received.packets,
    interface: record.interfaceName,
  };
}

/** A connection's protocol and 4-tuple as text: its identity in a report. */
export function connectionKey(c: ConnectionUsage): string {
  return `${c.protocol} ${c.localAddress} ${c.localPort} ${c.remoteAddress} ${c.remotePort}`;
}

function bucket(traffic: Traffic): BucketUsage {
  return {
    packets: traffic.sent.packets + traffic.received.packets,
    bytes: traffic.sent.bytes + traffic.received.bytes,
    sentBytes: traffic.sent.bytes,
    receivedBytes: traffic.received.bytes,
    sentPackets: traffic.sent.packets,
    receivedPackets: traffic.received.packets,
  };
}
