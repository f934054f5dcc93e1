// The speed test's result: one document (version 1, fields in docs/speedtest.md) that says
// what was measured, over which path, against which server, and whether it is whole.
// `status` is what keeps a broken run from passing for a valid one: only 'complete' results
// count as measurements; 'partial' keeps what was measured before a failure.

export const SPEEDTEST_DOCUMENT_VERSION = 1;

export type SpeedtestStatus = 'complete' | 'partial' | 'failed';
export type Protocol = 'librespeed' | 'cloudflare';

export interface LatencyFigures {
  /** Round trips that were answered. */
  samples: number;
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  /** Mean absolute difference of consecutive round trips. */
  jitterMs: number | null;
}

export interface DirectionResult {
  /** Goodput over the counted window: body bytes received (download) or acknowledged by the server (upload). */
  mbps: number | null;
  /** The interface's kernel counters over the same window (headers included, other traffic too); null when the interface is not known. */
  wireMbps: number | null;
  /** Body bytes counted in the window. */
  countedBytes: number;
  /** Length of the counted window. */
  durationMs: number;
  /** The warm-up before it: measured, not counted. */
  warmupMs: number;
  streams: number;
  requests: number;
  stoppedBy: 'stable' | 'time-limit' | 'byte-cap' | 'error';
  /** Round trips measured while this transfer ran, after its warm-up. */
  loadedLatency: LatencyFigures;
}

export interface PacketLoss {
  sent: number;
  received: number;
  lossPercent: number;
}

export interface SpeedtestResult {
  version: typeof SPEEDTEST_DOCUMENT_VERSION;
  status: SpeedtestStatus;
  /** The one-line error that ended a partial or failed run. */
  error: string | null;
  /** UTC, ISO 8601. */
  startedAt: string;
  finishedAt: string;
  server: { name: string; url: string; protocol: Protocol | null; address: string | null; chosenFrom: 'url' | 'list' | 'default' };
  path: { family: 4 | 6 | null; interface: string | null; localAddress: string | null; publicAddress: string | null };
  idleLatency: LatencyFigures | null;
  download: DirectionResult | null;
  upload: DirectionResult | null;
  /** UDP probes; only against a netmeter speedtest-server. */
  packetLoss: PacketLoss | null;
  /** Everything the test moved through its sockets (bodies, HTTP headers, TLS), warm-up and aborted requests included. */
  bytesUsed: { received: number; sent: number; total: number };
  /**
   * Scheduled tests in the daemon: what other programs (and unknown sockets) moved while the
   * test ran, as the daemon's meter saw it, and whether that was above 5% of the traffic.
   */
  contention?: { otherBytes: number; share: number; contended: boolean };
}

/** Latency figures from round trips in milliseconds, in the order they were taken. */
export function latencyFigures(rtts: number[]): LatencyFigures {
  if (rtts.length === 0) return { samples: 0, medianMs: null, minMs: null, maxMs: null, jitterMs: null };
  const sorted = [...rtts].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  let jitter: number | null = null;
  if (rtts.length > 1) {
    let sum = 0;
    for (let i = 1; i < rtts.length; i++) sum += Math.abs(rtts[i]! - rtts[i - 1]!);
    jitter = sum / (rtts.length - 1);
  }
  return { samples: rtts.length, medianMs: round3(median), minMs: round3(sorted[0]!), maxMs: round3(sorted[sorted.length - 1]!), jitterMs: jitter === null ? null : round3(jitter) };
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
