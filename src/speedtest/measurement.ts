// The measurement method, as pure functions of a phase's samples (cumulative bytes at
// times): when the warm-up ends (the rate stopped climbing), when to stop (the rate is
// stable, or time is up), and the rate over the counted window. No fudge factors: the
// figure is bytes over seconds. See docs/speedtest.md, "Method".

export interface Sample {
  /** Milliseconds since the phase began. */
  t: number;
  /** Bytes counted so far in the phase. */
  bytes: number;
}

export interface MethodSettings {
  /** Parallel connections. */
  streams: number;
  /** The warm-up lasts at least this long... */
  warmupMinMs: number;
  /** ...and at most this long, even if the rate still climbs (a slowly opening window). */
  warmupMaxMs: number;
  /** The counted window lasts at least this long... */
  minMeasureMs: number;
  /** ...and at most this long. */
  maxMeasureMs: number;
  /** Length of the sliding windows whose rates are compared. */
  windowMs: number;
  /** Stable: the last `stableWindows` sliding-window rates (taken a tick apart) lie within ±tolerance of their mean. */
  stableWindows: number;
  tolerance: number;
  /** How often samples are taken. */
  tickMs: number;
  /** A download request should last about this long, and at least requestTargetRtts round trips, so that request start-up costs little. */
  requestTargetMs: number;
  requestTargetRtts: number;
  /**
   * Upload requests are shorter: their answers are the only exact points of the delivered
   * curve, and each stream needs two inside the counted window (see ackedRate); at most a
   * quarter of maxMeasureMs.
   */
  uploadRequestTargetMs: number;
  uploadRequestTargetRtts: number;
  initialRequestBytes: number;
  /** Uploads may start smaller (no chunk granularity): on a slow link a first request far longer than requestTargetMs blurs the window's edges. */
  initialUploadBytes: number;
  maxRequestBytes: number;
}

// Short on purpose: a test should use at most half the data LibreSpeed's defaults use at the
// same speed (docs/speedtest.md, "Data used"), which at 100 Mbit/s and above is about 2.6 s of
// link time per direction, warm-up and the uploads finished after the stop included.
export const DEFAULT_METHOD: MethodSettings = {
  streams: 4,
  warmupMinMs: 500,
  warmupMaxMs: 2000,
  minMeasureMs: 1000,
  maxMeasureMs: 3000,
  windowMs: 500,
  stableWindows: 6,
  tolerance: 0.03,
  tickMs: 100,
  requestTargetMs: 500,
  requestTargetRtts: 25,
  uploadRequestTargetMs: 250,
  uploadRequestTargetRtts: 6,
  initialRequestBytes: 1 << 20,
  initialUploadBytes: 256 << 10,
  maxRequestBytes: 64 << 20,
};

/** Bytes per second between two samples (0 when no time passed). */
export function rateBetween(a: Sample, b: Sample): number {
  const seconds = (b.t - a.t) / 1000;
  return seconds > 0 ? (b.bytes - a.bytes) / seconds : 0;
}

/** The sample at or just before time t (samples are in time order). */
function sampleAt(samples: Sample[], t: number): Sample | undefined {
  let found: Sample | undefined;
  for (const s of samples) {
    if (s.t <= t) found = s;
    else break;
  }
  return found;
}

/** The rate over the window ending at the last sample, or undefined while too short. */
export function windowRate(samples: Sample[], windowMs: number, endIndex = samples.length - 1): number | undefined {
  const end = samples[endIndex];
  if (!end) return undefined;
  const start = sampleAt(samples.slice(0, endIndex + 1), end.t - windowMs);
  if (!start || end.t - start.t < windowMs * 0.9) return undefined;
  return rateBetween(start, end);
}

/**
 * The time the warm-up ends, or undefined while it goes on: after warmupMinMs, once the
 * rate over the last half window grew less than 10% over the half window before it
 * (TCP's slow start is over and the streams' windows have opened); at warmupMaxMs at the latest.
 */
export function warmupEnd(samples: Sample[], m: MethodSettings): number | undefined {
  const half = m.windowMs / 2;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.t < m.warmupMinMs) continue;
    if (s.t >= m.warmupMaxMs) return s.t;
    const recent = windowRate(samples, half, i);
    const before = sampleAt(samples, s.t - half);
    const earlier = before ? windowRate(samples.filter((x) => x.t <= before.t), half) : undefined;
    if (recent !== undefined && earlier !== undefined && recent > 0 && recent <= earlier * 1.1) return s.t;
  }
  return undefined;
}

export type PhaseDecision = { state: 'warmup' } | { state: 'measuring'; from: number } | { state: 'done'; from: number; to: number; stoppedBy: 'stable' | 'time-limit' };

/** What the phase does after the newest sample. */
export function decide(samples: Sample[], m: MethodSettings): PhaseDecision {
  const from = warmupEnd(samples, m);
  if (from === undefined) return { state: 'warmup' };
  const last = samples[samples.length - 1]!;
  const measured = last.t - from;
  // The upload's curve can arrive in steps (it is known up to the slowest stream's answer): the window still ends at maxMeasureMs.
  if (measured >= m.maxMeasureMs) return { state: 'done', from, to: sampleAt(samples, from + m.maxMeasureMs)!.t, stoppedBy: 'time-limit' };
  if (measured >= m.minMeasureMs && isStable(samples.filter((s) => s.t >= from), m)) return { state: 'done', from, to: last.t, stoppedBy: 'stable' };
  return { state: 'measuring', from };
}

/** The last stableWindows sliding-window rates lie within ±tolerance of their mean. */
export function isStable(samples: Sample[], m: MethodSettings): boolean {
  const rates: number[] = [];
  for (let i = samples.length - 1; i >= 0 && rates.length < m.stableWindows; i--) {
    const rate = windowRate(samples, m.windowMs, i);
    if (rate === undefined) break;
    rates.push(rate);
  }
  if (rates.length < m.stableWindows) return false;
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  return mean > 0 && rates.every((r) => Math.abs(r - mean) <= mean * m.tolerance);
}

/** The counted rate: bytes between the samples at `from` and `to`, over that time. */
export function countedRate(samples: Sample[], from: number, to: number): { bytes: number; ms: number; bytesPerSecond: number } {
  const a = sampleAt(samples, from) ?? samples[0];
  const b = sampleAt(samples, to) ?? samples[samples.length - 1];
  if (!a || !b || b.t <= a.t) return { bytes: 0, ms: 0, bytesPerSecond: 0 };
  return { bytes: b.bytes - a.bytes, ms: b.t - a.t, bytesPerSecond: rateBetween(a, b) };
}

/**
 * How long a stream's requests should last on a path with this idle round trip. Each
 * request costs its stream a round trip with nothing in flight (25 round trips: 4%, mostly
 * made up by the other streams and the bottleneck's queue).
 */
export function requestTargetFor(direction: 'download' | 'upload', rttMs: number, m: MethodSettings): number {
  if (direction === 'download') return Math.max(m.requestTargetMs, m.requestTargetRtts * rttMs);
  return Math.min(Math.max(m.uploadRequestTargetMs, m.uploadRequestTargetRtts * rttMs), m.maxMeasureMs / 4);
}

/** An upload request of one stream: when it was sent, when the server answered it after the whole body (if it did), its size. */
export interface UploadRecord {
  stream: number;
  sentT: number;
  ackT?: number;
  size: number;
}

/**
 * One stream's bytes delivered by time t: the sizes of the requests answered by then, plus
 * the share of the next answered request for the time elapsed since the previous answer
 * (or since it was sent, for the first). Requests are in the order the stream sent them;
 * the curve ends at the first one without an answer.
 */
export function deliveredAt(records: UploadRecord[], t: number): number {
  let total = 0;
  let since: number | undefined;
  for (const r of records) {
    if (r.ackT === undefined) break;
    const begin = since ?? r.sentT;
    if (t >= r.ackT) total += r.size;
    else {
      if (t > begin) total += (r.size * (t - begin)) / (r.ackT - begin);
      break;
    }
    since = r.ackT;
  }
  return total;
}

/**
 * The upload's delivered curve, known up to the earliest of the streams' latest answers
 * (past it, some stream's bytes are not yet known): for each time in `times` up to there,
 * the streams' delivered bytes summed. Before every stream has an answer, nothing is known.
 */
export function uploadCurve(records: UploadRecord[], streams: number, times: number[]): Sample[] {
  const byStream = new Map<number, UploadRecord[]>();
  for (const r of records) byStream.set(r.stream, [...(byStream.get(r.stream) ?? []), r]);
  let known = byStream.size < streams ? -Infinity : Infinity;
  for (const list of byStream.values()) {
    let last = -Infinity;
    for (const r of list) {
      if (r.ackT === undefined) break;
      last = r.ackT;
    }
    known = Math.min(known, last);
  }
  return times.filter((t) => t <= known).map((t) => ({ t, bytes: [...byStream.values()].reduce((sum, list) => sum + deliveredAt(list, t), 0) }));
}

/**
 * The next request's size for a stream that moved `lastBytes` in `lastMs`: about
 * requestTargetMs at that rate, at least the previous size, at most maxRequestBytes, in
 * whole multiples of `granularity`.
 */
export function nextRequestSize(previous: number, lastBytes: number, lastMs: number, m: MethodSettings, granularity: number): number {
  let size = previous;
  if (lastMs > 0 && lastBytes > 0) {
    const target = (lastBytes / lastMs) * m.requestTargetMs;
    size = Math.max(previous, Math.min(target, previous * 4));
  }
  size = Math.min(size, m.maxRequestBytes);
  return Math.max(granularity, Math.round(size / granularity) * granularity);
}
