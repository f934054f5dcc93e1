// The capture session driven without a network, a terminal or a timer: fake sources hand
// it batches, a fake clock moves, and tick() is called by hand. Rates, totals, retirement,
// interfaces coming and going, clock steps and failures are checked on its snapshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ProcessInfo } from '../src/attribute/types.js';
import { LinkType, PacketBatchBuilder, type PacketBatch } from '../src/capture/packet-batch.js';
import { CaptureDeviceError } from '../src/capture/capture-interfaces.js';
import type { KernelCounters } from '../src/capture/kernel-counters.js';
import type { LiveSource, LiveSourceOptions } from '../src/capture/live-source.js';
import { openCaptureFile } from '../src/capture/open-capture-file.js';
import { PrivilegeError } from '../src/capture/privilege.js';
import { takeSocketSnapshot } from '../src/attribute/socket-snapshot.js';
import { ProcFs } from '../src/attribute/proc/proc-fs.js';
import { walkSocketOwners } from '../src/attribute/socket-owners.js';
import { CaptureSession, IDLE_CONNECTION_SECONDS, type SessionAttribution, type SessionIo } from '../src/session/capture-session.js';
import { snapshotAttribution } from '../src/cli/replay.js';
import { Meter } from '../src/account/meter.js';
import { buildUsageReport } from '../src/present/usage-report.js';
import { parseCidr } from '../src/decode/address.js';
import { ipv4, tcp } from './support/packet-builder.js';
import { REPO_ROOT } from './support/run-cli.js';

const browser: ProcessInfo = { pid: 100, name: 'browser', cmdline: 'browser', user: 'alice', uid: 1000, startTime: 5 };

/** A source whose batches the test pushes; end() or fail() stops it as a device would. */
class FakeSource implements LiveSource {
  readonly engine = 'native' as const;
  dropped = 0;
  closed = false;
  private queue: PacketBatch[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private finished = false;

  constructor(readonly device: string) {}

  push(batch: PacketBatch): void {
    this.queue.push(batch);
    this.signal();
  }

  fail(error: Error): void {
    this.failure = error;
    this.finished = true;
    this.signal();
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    for (;;) {
      const batch = this.queue.shift();
      if (batch) {
        yield batch;
        continue;
      }
      if (this.finished) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  droppedPackets(): number {
    return this.dropped;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.finished = true;
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** The world the session sees: clocks, interfaces, kernel counters and owners the test sets. */
function fakeWorld(options: { defaults?: string[]; privileged?: boolean } = {}) {
  const clock = { wall: Date.UTC(2026, 11, 5, 12, 0, 0), mono: 1000 };
  const world = {
    clock,
    defaults: options.defaults ?? ['eth0'],
    sources: new Map<string, FakeSource>(),
    opened: [] as LiveSourceOptions[],
    refusing: new Map<string, Error>(),
    kernel: new Map<string, KernelCounters>(),
    alive: new Set<number>([browser.pid]),
    /** Moves both clocks on by `seconds` (the wall clock can be moved apart). */
    advance(seconds: number): void {
      clock.wall += seconds * 1000;
      clock.mono += seconds * 1000;
    },
  };
  const attribution: SessionAttribution = {
    isLocal: (address) => address === '198.18.0.1',
    owner: (_protocol, _local, localPort) => (localPort === 40000 ? browser : undefined),
    refresh: async () => undefined,
    startPeriodicRefresh: () => undefined,
    close: () => undefined,
    ownerSources: { kernel: 'none', kernelUnavailable: 'a fake' },
  };
  const io: SessionIo = {
    clock: { now: () => clock.wall, monotonic: () => clock.mono },
    resolveInterfaces: (requested) => (requested.length > 0 ? requested : [...world.defaults]),
    defaultInterfaces: () => [...world.defaults],
    hasCapturePrivilege: () => options.privileged ?? true,
    openSource: async (o) => {
      world.opened.push(o);
      const refusal = world.refusing.get(o.device);
      if (refusal) throw refusal;
      const source = new FakeSource(o.device);
      world.sources.set(o.device, source);
      return source;
    },
    startAttribution: () => attribution,
    readKernelCounters: async (device) => world.kernel.get(device),
    processExists: (pid) => world.alive.has(pid),
  };
  return { world, io };
}

/** Raw IPv4 packets as one batch on `device`: each [from ours?, bytes on the wire, seconds]. */
function batch(device: string, packets: Array<{ sent: boolean; wire: number; at: number; port?: number }>): PacketBatch {
  const builder = new PacketBatchBuilder(packets.length);
  const parts: Buffer[] = [];
  let offset = 0;
  for (const p of packets) {
    const port = p.port ?? 40000;
    const bytes = p.sent ? ipv4('198.18.0.1', '198.18.9.9', 6, tcp(port, 443)) : ipv4('198.18.9.9', '198.18.0.1', 6, tcp(443, port));
    builder.push(offset, bytes.length, p.wire, p.at, 0);
    parts.push(bytes);
    offset += bytes.length;
  }
  return builder.take(Buffer.concat(parts), [{ name: device, linkType: LinkType.RAW }]);
}

/** Lets the pumps take what was pushed: no timer, only the promise jobs already queued. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The file readers reuse their batch's arrays; a batch waiting in a fake source needs its own. */
function copyBatch(b: PacketBatch): PacketBatch {
  const { data, offset, capturedLength, wireLength, timestamp, packets, lastTimestamp, interfaceIndex } = b;
  return {
    ...b,
    data: Buffer.from(data),
    offset: offset.slice(),
    capturedLength: capturedLength.slice(),
    wireLength: wireLength.slice(),
    timestamp: timestamp.slice(),
    packets: packets?.slice() ?? null,
    lastTimestamp: lastTimestamp?.slice() ?? null,
    interfaceIndex: interfaceIndex.slice(),
  };
}

const counters = (rx: number, tx: number): KernelCounters => ({ rxBytes: rx, txBytes: tx, rxPackets: 0, txPackets: 0, rxDropped: 0, txDropped: 0 });

test('ticks give rates over the time since the last report and totals since start, on a fake clock', async () => {
  const { world, io } = fakeWorld();
  world.kernel.set('eth0', counters(10_000, 20_000));
  const session = await CaptureSession.start({ interfaces: [], localCidrs: [], keepRetired: true }, io);
  const first = session.report();
  assert.equal(first.processes.length, 0);
  const t0 = world.clock.wall / 1000;
  world.sources.get('eth0')!.push(batch('eth0', [{ sent: true, wire: 1500, at: t0 }, { sent: false, wire: 500, at: t0 }]));
  await settle();
  world.advance(1);
  world.kernel.set('eth0', counters(10_600, 21_600));
  await session.tick();
  let report = session.report();
  let p = report.processes.find((x) => x.pid === browser.pid)!;
  assert.deepEqual([p.sentBytes, p.receivedBytes, p.sentRate, p.receivedRate], [1500, 500, 1500, 500]);
  let eth0 = report.interfaces.find((i) => i.name === 'eth0')!;
  assert.deepEqual([eth0.txBytes, eth0.txRate, eth0.kernelTxBytes, eth0.kernelTxRate, eth0.kernelRxBytes], [1500, 1500, 1600, 1600, 600]);
  // Two seconds, 3000 more bytes sent: the rate is over both seconds, the totals grow.
  world.sources.get('eth0')!.push(batch('eth0', [{ sent: true, wire: 3000, at: t0 + 2 }]));
  await settle();
  world.advance(2);
  await session.tick();
  report = session.report();
  p = report.processes.find((x) => x.pid === browser.pid)!;
  assert.deepEqual([p.sentBytes, p.sentRate, p.receivedRate], [4500, 1500, 0]);
  eth0 = report.interfaces.find((i) => i.name === 'eth0')!;
  assert.equal(eth0.kernelTxRate, 0, 'the kernel counters did not move');
  assert.equal(report.durationSeconds, 3);
  assert.deepEqual(report.interval, { seconds: 2, packets: 1, bytes: 3000, sentBytes: 3000, receivedBytes: 0, sentPackets: 1, receivedPackets: 0 }, 'the interval alone');
  assert.equal(report.totals.sentBytes, 4500, 'the totals since start');
  assert.equal(session.report({ wholeRun: true }).interval, undefined, 'a whole-run document has no interval');
  // The process ended: it stays in the totals, marked.
  world.alive.delete(browser.pid);
  assert.equal(session.report().processes.find((x) => x.pid === browser.pid)!.exited, true);
  assert.equal(await session.stop(), undefined);
  assert.equal(world.sources.get('eth0')!.closed, true);
});

test('the wall clock stepped back an hour and forward a day: rates stay what the traffic was', async () => {
  const { world, io } = fakeWorld();
  const session = await CaptureSession.start({ interfaces: [], localCidrs: [], keepRetired: true }, io);
  session.report();
  const seen: number[] = [];
  session.onTick((tick) => void seen.push(tick.seconds));
  for (const step of [-3600, 86_400]) {
    world.sources.get('eth0')!.push(batch('eth0', [{ sent: true, wire: 1000, at: world.clock.wall / 1000 }]));
    await settle();
    world.clock.wall += step * 1000; // the wall clock jumps ...
    world.clock.mono += 1000; // ... while one second passes
    await session.tick();
    const p = session.report().processes.find((x) => x.pid === browser.pid)!;
    assert.equal(p.sentRate, 1000, `after a step of ${step} s`);
  }
  assert.deepEqual(seen, [1, 1], 'each tick is one second long');
  await session.stop();
});

test('usage totals never go down: connections that retire keep their bytes, and the daemon drops retired entries once credited', async () => {
  const { world, io } = fakeWorld();
  const session = await CaptureSession.start({ interfaces: [], localCidrs: [] }, io);
  const t0 = world.clock.wall / 1000;
  world.sources.get('eth0')!.push(batch('eth0', [{ sent: true, wire: 700, at: t0 }, { sent: true, wire: 300, at: t0, port: 40001 }]));
  await settle();
  const before = session.usageTotals();
  const sum = (totals: ReturnType<CaptureSession['usageTotals']>) => totals.reduce((n, t) => n + t.sentBytes, 0);
  assert.equal(sum(before), 1000);
  assert.deepEqual(before.find((t) => t.app === 'browser')?.sentBytes, 700);
  world.advance(IDLE_CONNECTION_SECONDS + 1);
  await session.tick();
  assert.equal([...session.meter.records()].length, 0, 'both connections retired');
  const after = session.usageTotals();
  assert.equal(sum(after), 1000);
  assert.equal(after.find((t) => t.app === 'browser')?.sentBytes, 700);
  assert.equal(session.meter.retired.size, 0, 'credited and dropped');
  await session.stop();
});

test('with the default set, an interface that comes up is captured and one that goes away is closed, the rest going on', async () => {
  const notices: string[] = [];
  const { world, io } = fakeWorld({ defaults: [] });
  const session = await CaptureSession.start({ interfaces: [], localCidrs: [], keepRetired: true, waitForInterfaces: true, onNotice: (l) => notices.push(l) }, io);
  assert.deepEqual(session.devices, []);
  assert.match(notices[0]!, /no interface is up/);
  world.defaults = ['eth0'];
  await session.tick();
  await settle();
  assert.deepEqual(session.devices, ['eth0']);
  world.defaults = ['eth0', 'wlan0'];
  await session.tick();
  await settle();
  assert.deepEqual(session.devices, ['eth0', 'wlan0']);
  const t0 = world.clock.wall / 1000;
  world.sources.get('wlan0')!.push(batch('wlan0', [{ sent: true, wire: 900, at: t0 }]));
  world.sources.get('eth0')!.push(batch('eth0', [{ sent: true, wire: 100, at: t0 }]));
  await settle();
  // wlan0 goes away; eth0 fails (removed): both leave, nothing stops.
  world.defaults = ['eth0'];
  await session.tick();
  assert.equal(world.sources.get('wlan0')!.closed, true);
  world.sources.get('eth0')!.fail(new CaptureDeviceError('eth0', "capture on 'eth0' stopped: the interface was removed"));
  world.defaults = [];
  await settle();
  await session.tick();
  assert.deepEqual(session.devices, []);
  const report = session.report();
  assert.deepEqual(
    report.interfaces.map((i) => [i.name, i.txBytes]).sort(),
    [['eth0', 100], ['wlan0', 900]],
    'what each interface carried stays in the report',
  );
  assert.ok(notices.some((l) => /wlan0 came up/.test(l)) && notices.some((l) => /wlan0 went away/.test(l)), notices.join('\n'));
  assert.ok(notices.some((l) => /eth0.*removed/.test(l)), notices.join('\n'));
  // An interface that cannot be opened is said once, however many ticks it stays so.
  world.defaults = ['tun0'];
  world.refusing.set('tun0', new CaptureDeviceError('tun0', "cannot capture on 'tun0': no"));
  for (let i = 0; i < 3; i++) {
    await session.tick();
    await settle();
  }
  assert.equal(notices.filter((l) => /tun0/.test(l)).length, 1);
  assert.equal(await session.stop(), undefined);
});

test('a device the user named that fails ends the session with its error', async () => {
  const { world, io } = fakeWorld();
  const session = await CaptureSession.start({ interfaces: ['eth0', 'lo'], localCidrs: [] }, io);
  const error = new CaptureDeviceError('lo', "capture on 'lo' stopped: the interface went down");
  world.sources.get('lo')!.fail(error);
  await session.ended;
  assert.equal(await session.stop(), error);
  assert.equal(world.sources.get('eth0')!.closed, true, 'the other device is closed too');
});

test('kernel counters that reset never make the totals go down; drops of every source are kept', async () => {
  const { world, io } = fakeWorld();
  world.kernel.set('eth0', counters(5000, 5000));
  const session = await CaptureSession.start({ interfaces: [], localCidrs: [], keepRetired: true }, io);
  world.kernel.set('eth0', counters(6000, 5000));
  await session.tick();
  world.kernel.set('eth0', counters(200, 5000)); // re-created interface: counting from zero
  await session.tick();
  world.sources.get('eth0')!.dropped = 7;
  const eth0 = session.report().interfaces.find((i) => i.name === 'eth0')!;
  assert.deepEqual([eth0.kernelRxBytes, eth0.droppedPackets], [1200, 7]);
  assert.deepEqual(session.kernelReadings(), [{ name: 'eth0', counters: counters(200, 5000) }]);
  await session.stop();
});

test('without capture privileges the session opens nothing and says how to get them', async () => {
  const { world, io } = fakeWorld({ privileged: false });
  await assert.rejects(CaptureSession.start({ interfaces: [], localCidrs: [] }, io), PrivilegeError);
  assert.equal(world.opened.length, 0);
});

test('a device that fails to open closes the ones already opened', async () => {
  const { world, io } = fakeWorld();
  world.refusing.set('lo', new CaptureDeviceError('lo', "no such interface 'lo'"));
  await assert.rejects(CaptureSession.start({ interfaces: ['eth0', 'lo'], localCidrs: [] }, io), /no such interface 'lo'/);
  assert.equal(world.sources.get('eth0')!.closed, true);
});

test('a recorded capture played through the session gives the report replay gives, to the byte', async () => {
  for (const name of ['loopback-mixed', 'udp-mixed-veth']) {
    const path = join(REPO_ROOT, 'fixtures/pcap', `${name}.pcapng`);
    const procRoot = join(REPO_ROOT, 'fixtures/proc', name);
    const snapshot = name === 'loopback-mixed' ? await takeSocketSnapshot(new ProcFs(procRoot), walkSocketOwners) : undefined;
    const owners = snapshotAttribution(snapshot, []);
    // Replay's way: every batch into a meter, one report.
    const meter = new Meter(owners);
    const file = await openCaptureFile(path);
    for await (const b of file.batches()) meter.ingest(b);
    const replayed = buildUsageReport(meter, { kind: 'live', interfaces: [] }, 1);
    // The session's way: the same batches from a fake device, ticks on a fake clock.
    const { world, io } = fakeWorld({ defaults: ['cap0'] });
    const session = await CaptureSession.start({ interfaces: [], localCidrs: [], keepRetired: true }, { ...io, startAttribution: () => ({ ...owners, refresh: async () => undefined, startPeriodicRefresh: () => undefined, close: () => undefined }) });
    session.report();
    world.clock.wall = meter.firstTimestamp * 1000; // packet times and the clock agree: nothing retires early
    for await (const b of (await openCaptureFile(path)).batches()) {
      world.sources.get('cap0')!.push(copyBatch(b));
      await settle();
    }
    world.advance(1);
    await session.tick();
    await session.stop();
    const live = session.report();
    for (const key of ['totals', 'unknown', 'other'] as const) assert.deepEqual(live[key], replayed[key], `${name}: ${key}`);
    const strip = <T extends object>(rows: T[]) => JSON.stringify(rows.map((r) => ({ ...r, sentRate: 0, receivedRate: 0, exited: undefined })));
    assert.equal(strip(live.processes), strip(replayed.processes), `${name}: processes`);
    assert.equal(strip(live.connections), strip(replayed.connections), `${name}: connections`);
    assert.ok(live.totals.packets > 0);
  }
});

test('--by host: rows are subscribers (by "host"); one line without --local at start, one after 5 s when only the host\'s own address is seen (a NAT uplink)', async () => {
  const { io } = fakeWorld();
  const notices: string[] = [];
  const bare = await CaptureSession.start({ interfaces: [], localCidrs: [], byHost: { ipv6Prefix: 64 }, onNotice: (l) => notices.push(l) }, io);
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /--by host without --local/);
  await bare.stop();

  notices.length = 0;
  const { world: w2, io: io2 } = fakeWorld();
  const session = await CaptureSession.start({ interfaces: [], localCidrs: [parseCidr('198.18.5.0/24')!], byHost: { ipv6Prefix: 64 }, onNotice: (l) => notices.push(l) }, io2);
  const t0 = w2.clock.wall / 1000;
  w2.sources.get('eth0')!.push(batch('eth0', [{ sent: true, wire: 1500, at: t0 }, { sent: false, wire: 500, at: t0 }]));
  await settle();
  w2.advance(1);
  await session.tick();
  const report = session.report();
  assert.equal(report.by, 'host');
  assert.deepEqual(report.processes.map((p) => [p.host, p.pid, p.sentBytes, p.receivedBytes]), [['198.18.0.1', null, 1500, 500]]);
  assert.deepEqual(notices, [], 'not judged in the first seconds');
  w2.advance(5);
  await session.tick();
  w2.advance(1);
  await session.tick();
  assert.equal(notices.length, 1, 'said once');
  assert.match(notices[0]!, /only at this host's own address 198\.18\.0\.1.*behind a NAT uplink/);
  await session.stop();
});
