// The live producer's idle clock: how long each process of a report has moved no byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessIdleClock } from '../src/present/live/process-idle.js';
import type { ProcessUsage, UsageReport } from '../src/present/usage-report.js';

function report(processes: Array<Pick<ProcessUsage, 'pid' | 'name' | 'sentBytes' | 'receivedBytes'>>): UsageReport {
  return {
    processes: processes.map((p) => ({ cmdline: p.name, user: null, sentPackets: 0, receivedPackets: 0, sentRate: 0, receivedRate: 0, ...p })),
  } as UsageReport;
}

const idle = (r: UsageReport) => r.processes.map((p) => p.idleSeconds);

test('a process is idle from its last byte on; a new one starts at zero', () => {
  const clock = new ProcessIdleClock();
  const first = report([{ pid: 1, name: 'curl', sentBytes: 10, receivedBytes: 100 }]);
  clock.mark(first, 10);
  assert.deepEqual(idle(first), [0], 'first seen: active now');
  const quiet = report([{ pid: 1, name: 'curl', sentBytes: 10, receivedBytes: 100 }, { pid: 2, name: 'curl', sentBytes: 5, receivedBytes: 0 }]);
  clock.mark(quiet, 11.5);
  assert.deepEqual(idle(quiet), [1.5, 0]);
  const later = report([{ pid: 1, name: 'curl', sentBytes: 10, receivedBytes: 100 }, { pid: 2, name: 'curl', sentBytes: 5, receivedBytes: 0 }]);
  clock.mark(later, 14);
  assert.deepEqual(idle(later), [4, 2.5]);
  const busy = report([{ pid: 1, name: 'curl', sentBytes: 10, receivedBytes: 101 }, { pid: 2, name: 'curl', sentBytes: 5, receivedBytes: 0 }]);
  clock.mark(busy, 15);
  assert.deepEqual(idle(busy), [0, 3.5], 'one more byte: active again');
});

test('the same pid under another name is another process', () => {
  const clock = new ProcessIdleClock();
  clock.mark(report([{ pid: 7, name: 'sh', sentBytes: 1, receivedBytes: 1 }]), 0);
  const exec = report([{ pid: 7, name: 'curl', sentBytes: 1, receivedBytes: 1 }]);
  clock.mark(exec, 5);
  assert.deepEqual(idle(exec), [0]);
});
