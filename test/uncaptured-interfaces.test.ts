// Loopback interfaces left out of a capture, read from a fake /sys/class/net tree: which
// are watched, their counters since the first read, and rates between reads.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UncapturedInterfaces } from '../src/capture/uncaptured-interfaces.js';

const sysRoot = await mkdtemp(join(tmpdir(), 'netmeter-uncaptured-'));
after(() => rm(sysRoot, { recursive: true, force: true }));

/** An interface with its IFF_* flags (hex, as the kernel writes them) and byte counters. */
async function fakeInterface(name: string, flags: string, rxBytes: number, txBytes: number): Promise<void> {
  const stats = join(sysRoot, name, 'statistics');
  await mkdir(stats, { recursive: true });
  await writeFile(join(sysRoot, name, 'flags'), `${flags}\n`);
  const files: Record<string, number> = { rx_bytes: rxBytes, tx_bytes: txBytes, rx_packets: 1, tx_packets: 1, rx_dropped: 0, tx_dropped: 0 };
  for (const [file, value] of Object.entries(files)) await writeFile(join(stats, file), `${value}\n`);
}

test('a loopback not captured is read: zero at first, then counters since then and rates over the seconds given', async () => {
  await fakeInterface('lo', '0x9', 5000, 5000); // UP|LOOPBACK
  await fakeInterface('eth0', '0x1003', 100, 100); // UP|BROADCAST|MULTICAST
  const uncaptured = new UncapturedInterfaces(sysRoot);
  assert.deepEqual(await uncaptured.read(['eth0'], 1), [{ name: 'lo', rxBytes: 0, txBytes: 0, rxRate: 0, txRate: 0 }]);
  await fakeInterface('lo', '0x9', 9000, 7000);
  assert.deepEqual(await uncaptured.read(['eth0'], 2), [{ name: 'lo', rxBytes: 4000, txBytes: 2000, rxRate: 2000, txRate: 1000 }]);
  await fakeInterface('lo', '0x9', 9000, 7000);
  assert.deepEqual(await uncaptured.read(['eth0'], 1), [{ name: 'lo', rxBytes: 4000, txBytes: 2000, rxRate: 0, txRate: 0 }], 'quiet: totals stay, rates fall to zero');
});

test('nothing to say when lo is captured, by name or through "any"', async () => {
  await fakeInterface('lo', '0x9', 5000, 5000);
  const uncaptured = new UncapturedInterfaces(sysRoot);
  assert.deepEqual(await uncaptured.read(['eth0', 'lo'], 1), []);
  assert.deepEqual(await uncaptured.read(['any'], 1), []);
});

test('an interface that is gone, or has no readable counters, is left out', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'netmeter-uncaptured-none-'));
  try {
    assert.deepEqual(await new UncapturedInterfaces(empty).read([], 1), []);
    await mkdir(join(empty, 'lo'));
    await writeFile(join(empty, 'lo', 'flags'), '0x9\n');
    assert.deepEqual(await new UncapturedInterfaces(empty).read([], 1), [], 'no statistics directory');
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
