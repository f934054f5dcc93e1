// One direction of the test: `streams` connections each sending requests back to back,
// sized as measurement.ts says; samples every tick; pings on a connection of their own;
// stops when measurement.ts says the rate is stable or time is up, or at the first error
// (the figures so far are kept, marked as stopped by the error).
//
// Download counts body bytes as they arrive. Upload counts a request's bytes only once
// the server answered it after the whole body. The answers give each stream's delivered
// bytes exactly at their arrival; between two answers the bytes are spread evenly (see
// deliveredAt). Times the bytes were handed to the kernel would not do: the socket's send
// buffer grows through the test and would be counted as delivered. Requests still running
// at the stop are finished, not abandoned, so the window's end has its answers.

import type { ServerEndpoints } from './endpoints.js';
import { pingWhile } from './latency.js';
import { countedRate, decide, nextRequestSize, windowRate, type MethodSettings, type PhaseDecision, type Sample } from './measurement.js';
import { latencyFigures, round3, type DirectionResult } from './result.js';
import { AbortedError, type Transport } from './transport.js';

export type Direction = 'download' | 'upload';

export interface TransferProgress {
  direction: Direction;
  state: 'warmup' | 'measuring' | 'finishing';
  elapsedMs: number;
  /** Rate over the last window, bits per second (what is moving now, not the result). */
  bitsPerSecond: number | null;
}

export interface TransferOptions {
  method: MethodSettings;
  now: () => number;
  /** Pings under load this often. */
  loadedPingIntervalMs: number;
  /** Stop once the test's sockets have moved this many bytes in all (checked every tick). */
  byteCap?: { limit: number; used: () => number };
  /** The interface's byte counter for this direction, for the wire rate; undefined: not known. */
  readWireBytes?: () => number | undefined;
  onProgress?: (progress: TransferProgress) => void;
}

export interface TransferOutcome {
  result: DirectionResult;
  /** The error that stopped the phase, if one did. */
  error?: Error;
}

interface UploadRecord {
  stream: number;
  /** When the request was sent (ms since the phase began). */
  sentT: number;
  /** When its answer came, if it came (2xx after the whole body). */
  ackT?: number;
  size: number;
}

export async function runTransfer(direction: Direction, endpoints: ServerEndpoints, transport: Transport, options: TransferOptions): Promise<TransferOutcome> {
  const { method, now } = options;
  const origin = now();
  const samples: Sample[] = [{ t: 0, bytes: 0 }];
  const wireSamples: Sample[] = [];
  const uploads: UploadRecord[] = [];
  let moved = 0;
  let requests = 0;
  let stopping = false;
  let error: Error | undefined;
  const abortTransfers = new AbortController();
  const stopPings = new AbortController();
  let decision = { state: 'warmup' } as PhaseDecision;
  let capped = false;

  const readWire = () => {
    const value = options.readWireBytes?.();
    if (value !== undefined) wireSamples.push({ t: now() - origin, bytes: value });
  };
  readWire();

  const pings = pingWhile(transport, endpoints, options.loadedPingIntervalMs, stopPings.signal, now, origin);

  let finishPhase!: () => void;
  const phaseDone = new Promise<void>((resolve) => (finishPhase = resolve));
  const stop = (cause?: Error) => {
    if (cause && !error) error = cause;
    if (stopping) return;
    stopping = true;
    // Downloads stop at once; uploads finish the requests they started (see above), unless an error stopped the phase.
    if (direction === 'download' || cause) abortTransfers.abort();
    finishPhase();
  };

  const stream = async (index: number) => {
    const connection = transport.connect();
    let size = direction === 'upload' ? Math.min(method.initialUploadBytes, method.initialRequestBytes) : method.initialRequestBytes;
    try {
      while (!stopping) {
        const url = direction === 'download' ? endpoints.downloadUrl(size) : endpoints.uploadUrl();
        const expected = direction === 'download' ? Math.max(1, Math.round(size / endpoints.downloadGranularity)) * endpoints.downloadGranularity : size;
        const started = now();
        requests++;
        if (direction === 'download') {
          await transport.download(connection, url, expected, (n) => (moved += n), abortTransfers.signal);
        } else {
          const record: UploadRecord = { stream: index, sentT: started - origin, size: expected };
          uploads.push(record);
          await transport.upload(connection, url, expected, (n) => (moved += n), abortTransfers.signal);
          record.ackT = now() - origin;
        }
        size = nextRequestSize(size, expected, now() - started, method, endpoints.downloadGranularity === 1 || direction === 'upload' ? 1 : endpoints.downloadGranularity);
      }
    } catch (e) {
      if (!(e instanceof AbortedError)) stop(e as Error);
    } finally {
      connection.close();
    }
  };

  const streams = Array.from({ length: method.streams }, (_, i) => stream(i));
  const ticker = setInterval(() => {
    const t = now() - origin;
    samples.push({ t, bytes: moved });
    readWire();
    if (stopping) return;
    decision = decide(samples, method);
    const rate = windowRate(samples, method.windowMs);
    options.onProgress?.({ direction, state: decision.state === 'warmup' ? 'warmup' : 'measuring', elapsedMs: t, bitsPerSecond: rate === undefined ? null : rate * 8 });
    if (decision.state === 'done') stop();
    else if (options.byteCap && options.byteCap.used() >= options.byteCap.limit) {
      capped = true;
      stop();
    }
  }, method.tickMs);

  await phaseDone;
  clearInterval(ticker);
  const end = now() - origin;
  samples.push({ t: end, bytes: moved });
  readWire();
  if (direction === 'upload' && !error) options.onProgress?.({ direction, state: 'finishing', elapsedMs: end, bitsPerSecond: null });
  await Promise.all(streams);
  stopPings.abort();
  const rtts = await pings;

  // The counted window: from the warm-up's end to the stop (or to the error).
  const from = decision.state === 'warmup' ? undefined : decision.from;
  const to = decision.state === 'done' ? decision.to : capped ? samples[samples.length - 2]!.t : end;
  let counted: { bytes: number; ms: number } = { bytes: 0, ms: 0 };
  if (from !== undefined && to > from) {
    counted = direction === 'download' ? countedRate(samples, from, to) : { bytes: ackedBetween(uploads, from, to), ms: to - from };
  }
  const wire = from !== undefined && wireSamples.length > 1 ? countedRate(wireSamples, from, to) : undefined;
  const loaded = rtts.filter((p) => from !== undefined && p.t >= from).map((p) => p.rtt);
  const result: DirectionResult = {
    mbps: counted.ms > 0 ? round3((counted.bytes * 8) / (counted.ms / 1000) / 1e6) : null,
    wireMbps: wire && wire.ms > 0 ? round3((wire.bytes * 8) / (wire.ms / 1000) / 1e6) : null,
    countedBytes: counted.bytes,
    durationMs: Math.round(counted.ms),
    warmupMs: Math.round(from ?? end),
    streams: method.streams,
    requests,
    stoppedBy: error ? 'error' : capped ? 'byte-cap' : decision.state === 'done' ? decision.stoppedBy : 'time-limit',
    loadedLatency: latencyFigures(loaded.length > 0 ? loaded : rtts.map((p) => p.rtt)),
  };
  return error ? { result, error } : { result };
}

/** Acknowledged upload bytes delivered between from and to, summed over the streams. */
function ackedBetween(uploads: UploadRecord[], from: number, to: number): number {
  const streams = new Map<number, UploadRecord[]>();
  for (const r of uploads) streams.set(r.stream, [...(streams.get(r.stream) ?? []), r]);
  let bytes = 0;
  for (const records of streams.values()) bytes += deliveredAt(records, to) - deliveredAt(records, from);
  return bytes;
}

/**
 * A stream's bytes delivered by time t: the sizes of the requests answered by then, plus
 * the share of the next answered request for the time elapsed since the previous answer
 * (or since it was sent, for the first). Requests are in the order the stream sent them;
 * the curve ends at the first one without an answer.
 */
export function deliveredAt(records: { sentT: number; ackT?: number; size: number }[], t: number): number {
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
