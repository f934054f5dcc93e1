// The header's text: interface lines, the session line and their number formats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatElapsed, formatShare, interfaceText, statusText } from '../src/present/live/live-header.js';
import type { SessionStatus } from '../src/present/live/live-header.js';

test('elapsed time reads as s, m and h', () => {
  assert.equal(formatElapsed(0), '0s');
  assert.equal(formatElapsed(59.9), '59s');
  assert.equal(formatElapsed(65), '1m05s');
  assert.equal(formatElapsed(3723), '1h02m03s');
});

test('the unknown share reads as a percentage', () => {
  assert.equal(formatShare(null), '-');
  assert.equal(formatShare(0), '0.0%');
  assert.equal(formatShare(0.0004), '<0.1%');
  assert.equal(formatShare(0.256), '25.6%');
});

const eth0 = { name: 'eth0', rxBytes: 2048, txBytes: 1024, rxPackets: 2, txPackets: 1 };

test('an interface shows kernel rates and totals beside the captured totals, and drops', () => {
  const line = interfaceText({ ...eth0, kernelRxBytes: 4096, kernelTxBytes: 1536, kernelRxRate: 512, kernelTxRate: 100, rxRate: 500, txRate: 90, droppedPackets: 3 }, 'bytes', 200);
  assert.equal(line, 'eth0  ↑100 B/s ↓512 B/s  total ↑1.50 KiB ↓4.00 KiB  captured ↑1.00 KiB ↓2.00 KiB  dropped 3');
});

test('without kernel counters an interface shows captured rates and totals; no drops, no mention', () => {
  assert.equal(interfaceText({ ...eth0, rxRate: 125, txRate: 0 }, 'bits', 200), 'eth0  ↑0 bit/s ↓1.0 kbit/s  captured ↑1.00 KiB ↓2.00 KiB');
  assert.equal(interfaceText({ ...eth0, droppedPackets: 0 }, 'bytes', 200), 'eth0  captured ↑1.00 KiB ↓2.00 KiB');
});

test('a narrow interface line keeps name, rates, kernel totals and drops before the captured totals', () => {
  const line = interfaceText({ ...eth0, kernelRxBytes: 4096, kernelTxBytes: 1536, kernelRxRate: 512, kernelTxRate: 100, droppedPackets: 3 }, 'bytes', 61);
  assert.equal(line, 'eth0  ↑100 B/s ↓512 B/s  total ↑1.50 KiB ↓4.00 KiB  dropped 3');
});

const status: SessionStatus = { unknownShare: 0.05, elapsedSeconds: 65, intervalSeconds: 1, view: 'hosts', sort: 'download', measure: 'total', unit: 'bits', filter: 'fire' };

test('the session line names every setting', () => {
  assert.equal(statusText(status, 200), 'unknown 5.0%  1m05s  every 1s  view hosts  sort download (cumulative)  bit/s  filter "fire"');
  assert.equal(statusText({ ...status, filter: '', intervalSeconds: 0.5 }, 200), 'unknown 5.0%  1m05s  every 0.5s  view hosts  sort download (cumulative)  bit/s');
});

test('a narrow session line keeps the view, the sort and the time', () => {
  assert.equal(statusText(status, 45), '1m05s  view hosts  sort download (cumulative)');
});
