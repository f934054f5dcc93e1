// One direction of the test: `streams` connections each sending requests back to back,
// sized as measurement.ts says; samples every tick; pings on a connection of their own;
// stops when measurement.ts says the rate is stable or time is up, or at the first error
// (the figures so far are kept, marked as stopped by the error).
//
// Download counts body bytes as they arrive. Upload counts a request's bytes only once
// the server answered it after the whole body: its curve (uploadCurve) is known only up to
// the streams' latest answers, and the method decides on that curve, so the window's end
// always lies where every stream was still running at full load. (Times the bytes were
// handed to the kernel would not do: the send buffers grow through the test and would count
// as delivered. Finishing the requests running at the stop and spreading their bytes back
// over the window read 3–14% high at 20 Mbit/s: they ran faster once the others were done.)
// At the stop every request is cut off; uploads are reset, so their send buffers are dropped.

import type { ServerEndpoints } from './endpoints.js';
import { pingWhile } from './latency.js';
import { countedRate, decide, nextRequestSize, requestTargetFor, uploadCurve, windowRate, type MethodSettings, type PhaseDecision, type Sample, type UploadRecord } from './measurement.js';
import { latencyFigures, round3, type DirectionResult } from './result.js';
import { AbortedError, type Transport } from './transport.js';

export type Direction = 'download' | 'upload';

export interface TransferProgress {
  direction: Direction;
  state: 'warmup' | 'measuring';
  elapsedMs: number;
  /** Rate over the last window, bits per second (what is moving now, not the result). */
  bitsPerSecond: number | null;
}

export interface TransferOptions {
  method: MethodSettings;
  /** The idle round trip, which sets how long requests should last (requestTargetFor). */
  rttMs: number;
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
    abortTransfers.abort();
    finishPhase();
  };

  const sizing = { ...method, requestTargetMs: requestTargetFor(direction, options.rttMs, method) };
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
        size = nextRequestSize(size, expected, now() - started, sizing, endpoints.downloadGranularity === 1 || direction === 'upload' ? 1 : endpoints.downloadGranularity);
      }
    } catch (e) {
      if (!(e instanceof AbortedError)) stop(e as Error);
    } finally {
      connection.close();
    }
  };

  // The curve the method decides on and counts: bytes as they arrive (download), or as the answers show them delivered (upload).
  const counted = (): Sample[] => (direction === 'download' ? samples : uploadCurve(uploads, method.streams, samples.map((x) => x.t)));
  const streams = Array.from({ length: method.streams }, (_, i) => stream(i));
  const ticker = setInterval(() => {
    const t = now() - origin;
    samples.push({ t, bytes: moved });
    readWire();
    if (stopping) return;
    const curve = counted();
    decision = decide(curve, method);
    const rate = windowRate(curve, method.windowMs);
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
  await Promise.all(streams);
  stopPings.abort();
  const rtts = await pings;

  // The counted window: from the warm-up's end to the stop (or to the error, or to the cap's tick).
  const curve = counted();
  const from = decision.state === 'warmup' ? undefined : decision.from;
  const lastKnown = curve[curve.length - 1]?.t ?? 0;
  const to = decision.state === 'done' ? decision.to : capped ? Math.min(samples[samples.length - 2]!.t, lastKnown) : lastKnown;
  const window = from !== undefined && to > from ? countedRate(curve, from, to) : { bytes: 0, ms: 0 };
  const wire = from !== undefined && wireSamples.length > 1 ? countedRate(wireSamples, from, to) : undefined;
  const loaded = rtts.filter((p) => from !== undefined && p.t >= from).map((p) => p.rtt);
  const result: DirectionResult = {
    mbps: window.ms > 0 ? round3((window.bytes * 8) / (window.ms / 1000) / 1e6) : null,
    wireMbps: wire && wire.ms > 0 ? round3((wire.bytes * 8) / (wire.ms / 1000) / 1e6) : null,
    countedBytes: window.bytes,
    durationMs: Math.round(window.ms),
    warmupMs: Math.round(from ?? end),
    streams: method.streams,
    requests,
    stoppedBy: error ? 'error' : capped ? 'byte-cap' : decision.state === 'done' ? decision.stoppedBy : 'time-limit',
    loadedLatency: latencyFigures(loaded.length > 0 ? loaded : rtts.map((p) => p.rtt)),
  };
  return error ? { result, error } : { result };
}
