import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelCounterDelta, readKernelCounters, type KernelCounters } from '../src/capture/kernel-counters.js';

const sysRoot = await mkdtemp(join(tmpdir(), 'netmeter-sys-class-net-'));

async function fakeInterface(name: string, values: Record<string, string>): Promise<void> {
  const dir = join(sysRoot, name, 'statistics');
  await mkdir(dir, { recursive: true });
  for (const [file, value] of Object.entries(values)) await writeFile(join(dir, file), value);
}

const counters = (rxBytes: number, txBytes: number, rxPackets = 0, txPackets = 0, rxDropped = 0, txDropped = 0): KernelCounters => ({
  rxBytes,
  txBytes,
  rxPackets,
  txPackets,
  rxDropped,
  txDropped,
});

function statisticsFiles(c: KernelCounters): Record<string, string> {
  return {
    rx_bytes: `${c.rxBytes}\n`,
    tx_bytes: `${c.txBytes}\n`,
    rx_packets: `${c.rxPackets}\n`,
    tx_packets: `${c.txPackets}\n`,
    rx_dropped: `${c.rxDropped}\n`,
    tx_dropped: `${c.txDropped}\n`,
    rx_errors: '0\n', // present on real interfaces, not read
  };
}

test('reads the six counters of an interface from its statistics directory', async () => {
  // Beyond 2^32, as the 64-bit counters of a busy interface are.
  const expected = counters(123456789012, 987654321, 1000, 2000, 3, 4);
  await fakeInterface('eth0', statisticsFiles(expected));
  assert.deepEqual(await readKernelCounters('eth0', sysRoot), expected);
});

test('an interface that is missing, incomplete, malformed or outside the root reads as undefined', async () => {
  await fakeInterface('half', { rx_bytes: '1\n', tx_bytes: '2\n' });
  await fakeInterface('garbled', { ...statisticsFiles(counters(1, 2)), tx_bytes: 'lots\n' });
  assert.equal(await readKernelCounters('nm-no-such-if', sysRoot), undefined);
  assert.equal(await readKernelCounters('half', sysRoot), undefined);
  assert.equal(await readKernelCounters('garbled', sysRoot), undefined);
  assert.equal(await readKernelCounters('../etc', sysRoot), undefined);
  assert.equal(await readKernelCounters('', sysRoot), undefined);
});

test('totals since start add each increase and start at zero', () => {
  const delta = new KernelCounterDelta();
  assert.deepEqual(delta.update(counters(1000, 500, 10, 5)), counters(0, 0));
  assert.deepEqual(delta.update(counters(1500, 700, 15, 7, 1, 0)), counters(500, 200, 5, 2, 1, 0));
  assert.deepEqual(delta.update(counters(1500, 700, 15, 7, 1, 0)), counters(500, 200, 5, 2, 1, 0));
  assert.deepEqual(delta.sinceStart, counters(500, 200, 5, 2, 1, 0));
});

test('a counter that goes down was reset: what it counts since is added from zero, never negative', async () => {
  const delta = new KernelCounterDelta();
  const readings: KernelCounters[] = [
    counters(1000, 1000, 10, 10),
    counters(3000, 1500, 30, 15), // +2000 rx, +500 tx
    counters(200, 1600, 2, 16), // rx reset (interface re-created): +200 rx, +100 tx
    counters(700, 10, 7, 1), // +500 rx; tx reset: +10
  ];
  const sums: KernelCounters[] = [];
  // Through files, as the meter sees them.
  for (const reading of readings) {
    await fakeInterface('flappy', statisticsFiles(reading));
    sums.push(delta.update((await readKernelCounters('flappy', sysRoot))!));
  }
  assert.deepEqual(
    sums.map((s) => [s.rxBytes, s.txBytes, s.rxPackets, s.txPackets]),
    [
      [0, 0, 0, 0],
      [2000, 500, 20, 5],
      [2200, 600, 22, 6],
      [2700, 610, 27, 7],
    ],
  );
  for (const s of sums) assert.ok(Object.values(s).every((v) => v >= 0));
});

test('the real loopback counters grow by at least the traffic this test sends', async () => {
  const before = await readKernelCounters('lo');
  assert.ok(before, 'lo has counters');
  const receiver = createSocket('udp4');
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  const port = receiver.address().port;
  const count = 100;
  const payload = Buffer.alloc(1000);
  const sender = createSocket('udp4');
  // Waiting for each send, not for the receiver: a full receive buffer may drop datagrams,
  // but lo has counted them by then.
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => sender.send(payload, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  }
  sender.close();
  receiver.close();
  const after = (await readKernelCounters('lo'))!;
  // Each datagram is 1000 + 8 + 20 bytes of IP (+14 Ethernet in lo's counters); lo counts
  // it as sent and as received. Other programs may add more, never less.
  const delta = new KernelCounterDelta();
  delta.update(before);
  const grown = delta.update(after);
  assert.ok(grown.txPackets >= count && grown.rxPackets >= count, `packets grew by ${grown.txPackets}/${grown.rxPackets}`);
  assert.ok(grown.txBytes >= count * 1028 && grown.rxBytes >= count * 1028, `bytes grew by ${grown.txBytes}/${grown.rxBytes}`);
});
