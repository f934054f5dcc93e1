// The header: interface lines in columns (rendered by Ink), the session line and their number formats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { LiveHeader, formatElapsed, formatShare, statusText } from '../src/present/live/live-header.js';
import type { LiveHeaderProps, SessionStatus } from '../src/present/live/live-header.js';

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
const status: SessionStatus = { unknownShare: 0.05, elapsedSeconds: 65, intervalSeconds: 1, view: 'hosts', sort: 'download', measure: 'total', unit: 'bits', filter: 'fire' };

/** The interface lines of the header at `width` columns (the session line left out). */
function interfaceLines(props: Partial<LiveHeaderProps> & Pick<LiveHeaderProps, 'interfaces'>, width = 200): string[] {
  const { lastFrame, unmount } = render(<LiveHeader status={status} paused={false} unit="bytes" width={width} {...props} />);
  const lines = (lastFrame() ?? '').replace(/\u001B\[[0-9;]*m/g, '').split('\n');
  unmount();
  return lines.slice(0, -1);
}

test('an interface shows kernel rates and totals beside the captured totals, and drops', () => {
  const interfaces = [{ ...eth0, kernelRxBytes: 4096, kernelTxBytes: 1536, kernelRxRate: 512, kernelTxRate: 100, rxRate: 500, txRate: 90, droppedPackets: 3 }];
  // Rates stand in cells 12 wide, so the line does not shift as they change each second.
  assert.deepEqual(interfaceLines({ interfaces }), ['eth0  ↑100 B/s     ↓512 B/s      total ↑1.50 KiB ↓4.00 KiB  captured ↑1.00 KiB ↓2.00 KiB  dropped 3']);
});

test('without kernel counters an interface shows captured rates and totals; no drops, no mention', () => {
  assert.deepEqual(interfaceLines({ interfaces: [{ ...eth0, rxRate: 125, txRate: 0 }], unit: 'bits' }), ['eth0  ↑0 bit/s     ↓1.0 kbit/s   captured ↑1.00 KiB ↓2.00 KiB']);
  assert.deepEqual(interfaceLines({ interfaces: [{ ...eth0, droppedPackets: 0 }] }), ['eth0  captured ↑1.00 KiB ↓2.00 KiB']);
});

test('a narrow interface line keeps name, rates, kernel totals and drops before the captured totals', () => {
  const interfaces = [{ ...eth0, kernelRxBytes: 4096, kernelTxBytes: 1536, kernelRxRate: 512, kernelTxRate: 100, droppedPackets: 3 }];
  assert.deepEqual(interfaceLines({ interfaces }, 72), ['eth0  ↑100 B/s     ↓512 B/s      total ↑1.50 KiB ↓4.00 KiB  dropped 3']);
});

test('the lines of several interfaces stand in columns, each figure under the same figure', () => {
  const lines = interfaceLines({
    interfaces: [
      { name: 'wlp0s20f3', rxBytes: 31_000_000, txBytes: 5_000_000, rxPackets: 1, txPackets: 1, kernelRxBytes: 32_500_000, kernelTxBytes: 5_100_000, kernelRxRate: 202000, kernelTxRate: 33100 },
      { name: 'lo', rxBytes: 300_000, txBytes: 300_000, rxPackets: 1, txPackets: 1, kernelRxBytes: 290_000, kernelTxBytes: 290_000, kernelRxRate: 0, kernelTxRate: 10 },
    ],
  });
  assert.deepEqual(lines, [
    'wlp0s20f3  ↑32.3 KiB/s  ↓197.3 KiB/s  total ↑4.86 MiB  ↓31.0 MiB   captured ↑4.77 MiB  ↓29.6 MiB',
    'lo         ↑10 B/s      ↓0 B/s        total ↑283.2 KiB ↓283.2 KiB  captured ↑293.0 KiB ↓293.0 KiB',
  ]);
});

test('loopback with traffic but not captured gets a line saying how to capture it', () => {
  const lines = interfaceLines({
    interfaces: [{ ...eth0, kernelRxBytes: 4096, kernelTxBytes: 1536, kernelRxRate: 512, kernelTxRate: 100 }],
    uncaptured: [{ name: 'lo', rxBytes: 700_000, txBytes: 700_000, rxRate: 1024, txRate: 1024 }],
  });
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^lo {4}↑1\.00 KiB\/s {2}↓1\.00 KiB\/s {3}total ↑683\.6 KiB ↓683\.6 KiB {2}not shown: -i lo$/);
  assert.equal(lines[1]!.indexOf('total'), lines[0]!.indexOf('total'), 'the totals line up');
  assert.equal(lines[1]!.indexOf('not shown'), lines[0]!.indexOf('captured'), 'where eth0 says what was captured');
  const narrow = interfaceLines({ interfaces: [{ ...eth0, kernelRxBytes: 4096, kernelTxBytes: 1536, kernelRxRate: 512, kernelTxRate: 100 }], uncaptured: [{ name: 'lo', rxBytes: 1, txBytes: 1, rxRate: 0, txRate: 0 }] }, 50);
  assert.match(narrow[1]!, /not shown: -i lo$/, `at 50 columns the hint outlasts the totals:\n${narrow.join('\n')}`);
  for (const line of narrow) assert.ok([...line].length <= 50, line);
});


test('the session line names every setting', () => {
  assert.equal(statusText(status, 200), 'unknown 5.0%  1m05s  every 1s  view hosts  sort download (cumulative)  bit/s  filter "fire"');
  assert.equal(statusText({ ...status, filter: '', intervalSeconds: 0.5 }, 200), 'unknown 5.0%  1m05s  every 0.5s  view hosts  sort download (cumulative)  bit/s');
});

test('a narrow session line keeps the view, the sort and the time', () => {
  assert.equal(statusText(status, 45), '1m05s  view hosts  sort download (cumulative)');
});
