// The measurement method on made-up sample series with answers worked out by hand: where
// the warm-up ends, when a rate counts as stable, the counted rate, request sizing, and
// the latency figures (median, jitter).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_METHOD, countedRate, deliveredAt, decide, isStable, nextRequestSize, requestTargetFor, uploadCurve, warmupEnd, windowRate, type MethodSettings, type Sample } from '../src/speedtest/measurement.js';
import { latencyFigures } from '../src/speedtest/result.js';

const m: MethodSettings = { ...DEFAULT_METHOD, warmupMinMs: 400, warmupMaxMs: 2000, minMeasureMs: 1000, maxMeasureMs: 3000, windowMs: 400, stableWindows: 4, tolerance: 0.05, tickMs: 100 };

/** Samples every 100 ms from a rate function (bytes per second at time t ms). */
function series(untilMs: number, rate: (t: number) => number): Sample[] {
  const out: Sample[] = [{ t: 0, bytes: 0 }];
  let bytes = 0;
  for (let t = 100; t <= untilMs; t += 100) {
    bytes += rate(t) / 10;
    out.push({ t, bytes });
  }
  return out;
}

test('window rate: bytes over the window ending at the last sample, undefined while the series is shorter', () => {
  const s = series(1000, () => 1000);
  assert.equal(windowRate(s, 400), 1000);
  assert.equal(windowRate(s.slice(0, 3), 400), undefined);
});

test('warm-up ends once the rate stops climbing, not before warmupMinMs, at warmupMaxMs at the latest', () => {
  // Doubling each 100 ms until 700 ms, flat after: half windows (200 ms) compare equal from 1100 ms.
  const ramp = series(3000, (t) => (t <= 700 ? 2 ** (t / 100) : 128));
  const end = warmupEnd(ramp, m)!;
  // At t=900 the last half window (700..900] moved 128+128 per tick against (500..700]'s 64+128:
  // +33%, still warming; at t=1000, (800..1000] and (600..800] both moved 128+128.
  assert.equal(end, 1000);
  // A flat rate from the start: warm-up is just warmupMinMs.
  assert.equal(warmupEnd(series(3000, () => 500), m), 400);
  // Always climbing: warmupMaxMs.
  assert.equal(warmupEnd(series(3000, (t) => t * t), m), 2000);
  // Not yet known while still short of the minimum.
  assert.equal(warmupEnd(series(300, () => 500), m), undefined);
});

test('decide: warm-up, then measuring, then done when stable after minMeasureMs or at maxMeasureMs', () => {
  assert.deepEqual(decide(series(300, () => 500), m), { state: 'warmup' });
  assert.deepEqual(decide(series(900, () => 500), m), { state: 'measuring', from: 400 });
  assert.deepEqual(decide(series(1400, () => 500), m), { state: 'done', from: 400, to: 1400, stoppedBy: 'stable' });
  // A rate that swings ±20% every 400 ms is never stable: the time limit ends it.
  const swinging = series(5000, (t) => (Math.floor(t / 400) % 2 === 0 ? 600 : 400));
  const steps = swinging.map((_, i) => decide(swinging.slice(0, i + 1), m));
  const done = steps.find((d) => d.state === 'done');
  assert.equal(done?.state, 'done');
  assert.equal((done as { stoppedBy: string }).stoppedBy, 'time-limit');
  // A curve that arrives in a step past the limit (an upload waiting for its slowest stream) still ends
  // by maxMeasureMs: at the last sample before it (1200; the next is 4500).
  const stepped = series(5000, () => 500).filter((x) => x.t <= 1200 || x.t >= 4500);
  assert.deepEqual(decide(stepped, m), { state: 'done', from: 400, to: 1200, stoppedBy: 'time-limit' });
});

test('isStable needs stableWindows window rates within the tolerance of their mean', () => {
  assert.equal(isStable(series(2000, () => 1000), m), true);
  assert.equal(isStable(series(2000, (t) => (t > 1800 ? 1300 : 1000)), m), false);
  assert.equal(isStable(series(600, () => 1000), m), false, 'too few windows');
});

test('counted rate: bytes between the samples at from and to, over that time; no fudge factor', () => {
  const s = series(2000, (t) => (t <= 500 ? 100 : 1000));
  const r = countedRate(s, 500, 1500);
  assert.equal(r.bytes, 1000);
  assert.equal(r.ms, 1000);
  assert.equal(r.bytesPerSecond, 1000);
});

test('request size: about requestTargetMs at the stream rate, never shrinking, at most 4x per step, whole chunks', () => {
  const mm = { ...m, requestTargetMs: 500, maxRequestBytes: 64 << 20 };
  // 1 MiB in 100 ms: 10 MiB/s wants 5 MiB, capped at 4x: 4 MiB.
  assert.equal(nextRequestSize(1 << 20, 1 << 20, 100, mm, 1), 4 << 20);
  // 1 MiB in 250 ms: 2 MiB.
  assert.equal(nextRequestSize(1 << 20, 1 << 20, 250, mm, 1), 2 << 20);
  // Slow: stays at the previous size.
  assert.equal(nextRequestSize(1 << 20, 1 << 20, 2000, mm, 1), 1 << 20);
  // LibreSpeed's MiB chunks: 1.5 MiB rounds to 2 MiB.
  assert.equal(nextRequestSize(1 << 20, 1 << 20, 333.333, mm, 1 << 20), 2 << 20);
  assert.equal(nextRequestSize(48 << 20, 48 << 20, 100, mm, 1), 64 << 20, 'maxRequestBytes caps it');
});

test('latency figures: median, min, max and jitter as the mean absolute difference of consecutive round trips', () => {
  assert.deepEqual(latencyFigures([10, 14, 12, 20]), { samples: 4, medianMs: 13, minMs: 10, maxMs: 20, jitterMs: 4.667 });
  assert.deepEqual(latencyFigures([5]), { samples: 1, medianMs: 5, minMs: 5, maxMs: 5, jitterMs: null });
  assert.deepEqual(latencyFigures([]), { samples: 0, medianMs: null, minMs: null, maxMs: null, jitterMs: null });
});

test('upload delivered curve: whole requests at their answers, spread evenly in between, nothing after an unanswered one', () => {
  const records = [
    { stream: 0, sentT: 0, ackT: 100, size: 1000 },
    { stream: 0, sentT: 100, ackT: 300, size: 1000 },
    { stream: 0, sentT: 300, size: 1000 }, // refused or cut off
    { stream: 0, sentT: 400, ackT: 500, size: 1000 },
  ];
  assert.equal(deliveredAt(records, 0), 0);
  assert.equal(deliveredAt(records, 50), 500);
  assert.equal(deliveredAt(records, 100), 1000);
  assert.equal(deliveredAt(records, 200), 1500);
  assert.equal(deliveredAt(records, 300), 2000);
  assert.equal(deliveredAt(records, 10_000), 2000, 'the unanswered request ends the curve');
});

test('upload curve: the streams summed, known only up to the earliest of their latest answers', () => {
  const records = [
    { stream: 0, sentT: 0, ackT: 100, size: 1000 },
    { stream: 1, sentT: 0, ackT: 200, size: 4000 },
    { stream: 0, sentT: 100, ackT: 300, size: 1000 },
    { stream: 1, sentT: 200, size: 4000 }, // running
    { stream: 0, sentT: 300, size: 1000 }, // running
  ];
  const times = [0, 100, 150, 200, 250, 300];
  // Stream 1's last answer (200) bounds what is known; at 150: 1000 + 250 (stream 0) and 3000 (stream 1).
  assert.deepEqual(uploadCurve(records, 2, times), [
    { t: 0, bytes: 0 },
    { t: 100, bytes: 3000 },
    { t: 150, bytes: 4250 },
    { t: 200, bytes: 5500 },
  ]);
  // A stream that has not been answered yet: nothing known.
  assert.deepEqual(uploadCurve(records, 3, times), []);
});

test('request targets: downloads max(requestTargetMs, 25 round trips); uploads max(250 ms, 6 round trips), at most a quarter of maxMeasureMs', () => {
  assert.equal(requestTargetFor('download', 10, DEFAULT_METHOD), 500);
  assert.equal(requestTargetFor('download', 40, DEFAULT_METHOD), 1000);
  assert.equal(requestTargetFor('upload', 10, DEFAULT_METHOD), 250);
  assert.equal(requestTargetFor('upload', 100, DEFAULT_METHOD), 600);
  assert.equal(requestTargetFor('upload', 600, DEFAULT_METHOD), DEFAULT_METHOD.maxMeasureMs / 4);
});
