import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { LiveAttribution, withLearnedConnections } from '../src/attribute/live-attribution.js';
import { KernelOwners } from '../src/attribute/kernel-owners.js';
import { parseSocketSnapshot, serializeSocketSnapshot } from '../src/attribute/socket-snapshot.js';
import { SocketResolver } from '../src/attribute/socket-resolver.js';
import type { ProcessInfo, SocketSnapshot } from '../src/attribute/types.js';

/** A snapshot in which `pid` owns a TCP socket 198.18.0.1:port ↔ 198.18.0.2:80. */
function snapshot(port: number, pid: number): SocketSnapshot {
  return {
    version: 1,
    takenAt: 0,
    localAddresses: ['198.18.0.1'],
    sockets: [{ protocol: 'tcp', localAddress: '198.18.0.1', localPort: port, remoteAddress: '198.18.0.2', remotePort: 80, inode: 10 + port, uid: 0, state: 1 }],
    owners: [[10 + port, [pid]]],
    processes: [{ pid, name: `p${pid}`, cmdline: '', user: 'root', uid: 0 }],
  };
}

/** Reads that finish when the test says so, in order. */
function controlledReads() {
  const pending: Array<(s: SocketSnapshot) => void> = [];
  let reads = 0;
  return {
    take: () => {
      reads++;
      return new Promise<SocketSnapshot>((resolve) => pending.push(resolve));
    },
    finish: (s: SocketSnapshot) => pending.shift()!(s),
    get reads() {
      return reads;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a refresh asked for during a read waits for a read that starts after it', async () => {
  const reads = controlledReads();
  const refreshed: number[] = [];
  const a = new LiveAttribution({ takeSnapshot: reads.take, onRefresh: (s) => refreshed.push(s.sockets[0]!.localPort) });
  const first = a.refresh();
  const second = a.refresh();
  const third = a.refresh();
  assert.equal(reads.reads, 1, 'one read at a time');
  reads.finish(snapshot(1000, 1));
  await first;
  await tick();
  assert.equal(reads.reads, 2, 'callers during the first read share one more read');
  let secondDone = false;
  void second.then(() => (secondDone = true));
  await tick();
  assert.equal(secondDone, false, 'the second caller waits for the read that started after it');
  reads.finish(snapshot(2000, 2));
  await Promise.all([second, third]);
  assert.deepEqual(refreshed, [1000, 2000]);
  assert.equal(a.owner('tcp', '198.18.0.1', 2000, '198.18.0.2', 80)?.pid, 2);
  assert.equal(a.isLocal('198.18.0.1'), true);
});

test('nothing reports after close, not even a read under way', async () => {
  const reads = controlledReads();
  const refreshed: number[] = [];
  const a = new LiveAttribution({ takeSnapshot: reads.take, onRefresh: (s) => refreshed.push(s.sockets.length) });
  const read = a.refresh();
  a.close();
  reads.finish(snapshot(1000, 1));
  await read;
  await a.refresh();
  assert.deepEqual(refreshed, []);
  assert.equal(reads.reads, 1);
});

test('an unknown socket prompts one debounced re-read, which then finds it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const reads = controlledReads();
  const a = new LiveAttribution({ takeSnapshot: reads.take, debounceMs: 10 });
  assert.equal(a.owner('tcp', '198.18.0.1', 3000, '198.18.0.2', 80), undefined);
  assert.equal(a.owner('tcp', '198.18.0.1', 3001, '198.18.0.2', 80), undefined);
  t.mock.timers.tick(10);
  assert.equal(reads.reads, 1, 'two unknown sockets, one re-read');
  reads.finish(snapshot(3000, 7));
  await tick();
  assert.equal(a.owner('tcp', '198.18.0.1', 3000, '198.18.0.2', 80)?.pid, 7);
  a.close();
});

test('records still unknown after a read do not prompt another read', async (t) => {
  const reads = controlledReads();
  let attribution!: LiveAttribution;
  // As the meter does after each read: look again for every record without owner.
  attribution = new LiveAttribution({
    takeSnapshot: reads.take,
    debounceMs: 1,
    onRefresh: () => attribution.owner('udp', '198.18.0.1', 5353, '198.18.0.2', 53),
  });
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const read = attribution.refresh();
  reads.finish(snapshot(1000, 1));
  await read;
  t.mock.timers.tick(30);
  await tick();
  assert.equal(reads.reads, 1);
  attribution.close();
});

test('connections known only from the kernel join the snapshot as rows with inodes no socket has', () => {
  const base = snapshot(40000, 5);
  const curl: ProcessInfo = { pid: 42, name: 'curl', cmdline: 'curl', user: 'root', uid: 0 };
  const row = (port: number) => ({ protocol: 'tcp' as const, localAddress: '198.18.0.1', localPort: port, remoteAddress: '198.18.0.2', remotePort: 80, inode: 0, uid: 0, state: 1 });
  const inodes = { next: 2 ** 32 };
  // Another network namespace's connection (the kernel reports all of them): not ours.
  const elsewhere = { socket: { ...row(40003), localAddress: '198.18.0.2', remoteAddress: '198.18.0.1' }, owner: curl };
  const joined = withLearnedConnections(base, [{ socket: row(40000), owner: curl }, { socket: row(40001), owner: curl }, elsewhere, { socket: row(40002), owner: curl }], inodes);
  // 40000 is in /proc's tables already: /proc's row and owner stand.
  assert.deepEqual(joined.sockets.map((s) => [s.localPort, s.inode]), [[40000, 10 + 40000], [40001, 2 ** 32], [40002, 2 ** 32 + 1]]);
  assert.deepEqual(joined.owners.slice(1), [[2 ** 32, [42]], [2 ** 32 + 1, [42]]]);
  assert.deepEqual(joined.processes.map((p) => p.pid), [5, 42]);
  assert.equal(inodes.next, 2 ** 32 + 2);
  // A resolver and a recording read them like any socket.
  const resolver = new SocketResolver(parseSocketSnapshot(serializeSocketSnapshot(joined), 'embedded'));
  assert.equal(resolver.resolve('tcp', '198.18.0.1', 40001, '198.18.0.2', 80)?.name, 'curl');
  assert.equal(resolver.resolve('tcp', '198.18.0.1', 40000, '198.18.0.2', 80)?.pid, 5);
  assert.equal(resolver.isLocal('198.18.0.2'), false, "the other namespace's address stays remote");
  assert.equal(withLearnedConnections(base, [], inodes), base);
});

test('process ends reach the caller from the kernel, in batches: those of processes that held sockets, not the others', { skip: process.getuid?.() !== 0 && 'needs root (eBPF)' }, async (t) => {
  const owners = [spawn('sleep', ['0.3']), spawn('sleep', ['0.3'])];
  const bystander = spawn('sleep', ['0.3']);
  const held: SocketSnapshot = { ...snapshot(1, owners[0]!.pid!), processes: owners.map((c) => ({ pid: c.pid!, name: 'svc', cmdline: 'svc', user: 'root', uid: 0 })) };
  const batches: number[][] = [];
  const a = new LiveAttribution({ kernelEvents: KernelOwners.open, takeSnapshot: async () => held, onProcessesEnded: (ends) => batches.push(ends.map((e) => e.pid)) });
  t.after(() => a.close());
  if (a.connectEventsUnavailable) {
    t.skip(`kernel events unavailable here: ${a.connectEventsUnavailable}`);
    return;
  }
  await a.refresh();
  await Promise.all([...owners, bystander].map((c) => new Promise((resolve) => c.once('exit', resolve))));
  for (let i = 0; i < 50 && !owners.every((c) => batches.flat().includes(c.pid!)); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(owners.every((c) => batches.flat().includes(c.pid!)), `both owners' ends seen in ${JSON.stringify(batches)}`);
  assert.ok(!batches.flat().includes(bystander.pid!), `the end of a process that held no socket is not passed on: ${JSON.stringify(batches)}`);
});

test('a port whose owner the kernel said ended is nobody\'s for later packets until /proc is read again', { skip: process.getuid?.() !== 0 && 'needs root (eBPF)' }, async (t) => {
  let reads = 0;
  // Every read says the same: the ended process would stay the owner without the kernel's word.
  const endsTold: Array<readonly number[] | undefined> = [];
  let held: SocketSnapshot | undefined;
  const a = new LiveAttribution({ kernelEvents: KernelOwners.open, takeSnapshot: async (_fs, ended) => (reads++, endsTold.push(ended), held), debounceMs: 60_000, onProcessesEnded: () => {} });
  t.after(() => a.close());
  if (a.connectEventsUnavailable) {
    t.skip(`kernel events unavailable here: ${a.connectEventsUnavailable}`);
    return;
  }
  // Started once the kernel's programs are attached (loading them takes a few hundred ms).
  const child = spawn('sleep', ['0.2']);
  held = {
    version: 1, takenAt: 0, localAddresses: ['198.18.0.1'],
    sockets: [{ protocol: 'udp', localAddress: '0.0.0.0', localPort: 40123, remoteAddress: '0.0.0.0', remotePort: 0, inode: 77, uid: 0, state: 7 }],
    owners: [[77, [child.pid!]]],
    processes: [{ pid: child.pid!, name: 'svc', cmdline: 'svc', user: 'root', uid: 0 }],
  };
  await a.refresh();
  assert.equal(a.owner('udp', '198.18.0.1', 40123, '198.18.5.5', 53)?.name, 'svc');
  const before = Date.now() / 1000;
  await new Promise((resolve) => child.once('exit', resolve));
  const now = () => Date.now() / 1000 + 1;
  let owner = a.owner('udp', '198.18.0.1', 40123, '198.18.5.5', 53, now());
  for (let i = 0; i < 50 && owner; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    owner = a.owner('udp', '198.18.0.1', 40123, '198.18.5.5', 53, now());
  }
  assert.equal(owner, undefined, 'the ended process owns no packet captured after its end');
  // The capture runs behind: a packet from before the end is still the process's own.
  assert.equal(a.owner('udp', '198.18.0.1', 40123, '198.18.5.5', 53, before)?.name, 'svc');
  assert.equal(reads, 1, 'no re-read happened meanwhile');
  // The kernel reports an end before the process's sockets are closed: a read that still
  // lists the process does not undo the end.
  await a.refresh();
  assert.ok(endsTold[1]?.includes(child.pid!), `the read is told of the end, to look at who holds the port now: ${JSON.stringify(endsTold)}`);
  assert.equal(a.owner('udp', '198.18.0.1', 40123, '198.18.5.5', 53, now()), undefined);
  // A read that lists another process on the port: what /proc says then stands.
  held = { ...held, owners: [[77, [1]]], processes: [{ pid: 1, name: 'svc-new', cmdline: 'svc', user: 'root', uid: 0 }] };
  await a.refresh();
  assert.equal(a.owner('udp', '198.18.0.1', 40123, '198.18.5.5', 53, now())?.name, 'svc-new');
});

test('a read that finds nothing changed keeps the owners and re-checks no record; without kernel events every read is told no ends', async () => {
  const told: Array<readonly number[] | undefined> = [];
  const answers: Array<SocketSnapshot | undefined> = [snapshot(1000, 7), undefined];
  const refreshed: number[] = [];
  const a = new LiveAttribution({
    takeSnapshot: async (_fs, ended) => (told.push(ended), answers.shift()),
    onRefresh: (s) => refreshed.push(s.processes[0]!.pid),
  });
  await a.refresh();
  await a.refresh();
  a.close();
  assert.deepEqual(refreshed, [7], 'only the read with news is passed on');
  assert.equal(a.owner('tcp', '198.18.0.1', 1000, '198.18.0.2', 80)?.pid, 7);
  assert.equal(a.snapshot?.processes[0]?.pid, 7);
  assert.deepEqual(told, [undefined, undefined], 'no ends heard of: the reader must walk');
});

test('with the kernel\'s tracepoints alone, timed reads take only the TCP listeners; asked-for reads take the TCP tables', { skip: process.getuid?.() !== 0 && 'needs root (eBPF)' }, async (t) => {
  const asked: string[] = [];
  const a = new LiveAttribution({ kernelEvents: (o) => KernelOwners.open(o, 'tracepoints'), takeSnapshot: async (_fs, _ended, tcp) => (asked.push(tcp), snapshot(1, 1)), debounceMs: 0 });
  t.after(() => a.close());
  if (a.connectEventsUnavailable) {
    t.skip(`kernel events unavailable here: ${a.connectEventsUnavailable}`);
    return;
  }
  await a.refresh();
  a.startPeriodicRefresh();
  await new Promise((resolve) => setTimeout(resolve, 1150));
  a.owner('tcp', '198.18.0.1', 5555, '198.18.0.9', 80); // no owner: prompts a read
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(asked, ['tables', 'listeners', 'tables']);
});
