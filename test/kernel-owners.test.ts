import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { KernelOwners, WAKE_GAP_MS } from '../src/attribute/kernel-owners.js';
import { ProcFs } from '../src/attribute/proc/proc-fs.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { loadNativeAddon } from '../src/native-addon.js';
import { FakeSource, LAYOUT, type FakeEvent } from './support/socket-event-fakes.js';

test('the addon lays events out as socket_owner_event.h says', (t) => {
  const loaded = loadNativeAddon();
  if ('error' in loaded) return t.skip(`the native addon did not load: ${loaded.error.message}`);
  assert.deepEqual(loaded.addon.socketEventLayout, LAYOUT);
});

const process42: ProcessInfo = { pid: 42, name: 'curl', cmdline: 'curl http://198.18.0.2/', user: 'alice', uid: 1000, startTime: 777 };
const settle = () => new Promise((resolve) => setImmediate(resolve));

function owners(source: FakeSource, readProcess: (pid: number) => Promise<ProcessInfo | undefined>, onFound?: () => void, maxConnections?: number) {
  // uid 1000 is alice, as a passwd file would say.
  const userName = (uid: number) => (uid === 1000 ? 'alice' : undefined);
  return new KernelOwners(source, LAYOUT, { readProcess, userName, ...(onFound ? { onFound } : {}), ...(maxConnections ? { maxConnections } : {}) });
}

// connect(): CLOSE → SYN_SENT in the caller (no source port yet); the SYN-ACK: SYN_SENT → ESTABLISHED.
const connect = (socket: bigint, pid: number, comm = 'curl'): FakeEvent => ({ socket, from: 7, to: 2, pid, uid: 1000, comm, remote: '198.18.0.2', local: '198.18.0.1', remotePort: 80 });
const established = (socket: bigint, local: string, localPort: number, remote: string, remotePort: number, family: 2 | 10 = 2): FakeEvent => ({
  socket, from: 2, to: 1, family, local, localPort, remote, remotePort, pid: 0, comm: 'swapper/1',
});

test('the owner is the connecting process, joined to the 4-tuple the connection completes with', async () => {
  const source = new FakeSource();
  const read: number[] = [];
  const o = owners(source, async (pid) => (read.push(pid), process42));
  source.push(connect(0xffff1n, 42), established(0xffff1n, '198.18.0.1', 40000, '198.18.0.2', 80));
  o.drain();
  await settle();
  assert.deepEqual(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), process42);
  // Not the other direction, nor another port.
  assert.equal(o.owner('198.18.0.2', 80, '198.18.0.1', 40000), undefined);
  assert.equal(o.owner('198.18.0.1', 40001, '198.18.0.2', 80), undefined);
  assert.deepEqual(read, [42], 'the process is read once, when it connects');
});

test('owners asked for before the process was read are announced once it is', async () => {
  const source = new FakeSource();
  let release!: (p: ProcessInfo) => void;
  let found = 0;
  const o = owners(source, () => new Promise((resolve) => (release = resolve)), () => found++);
  source.push(connect(1n, 42), established(1n, '198.18.0.1', 40000, '198.18.0.2', 80));
  assert.equal(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), undefined);
  release(process42);
  await settle();
  assert.equal(found, 1);
  assert.deepEqual(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), process42);
});

test('a tuple completed after it was asked for is announced at the next drain', async () => {
  const source = new FakeSource();
  let found = 0;
  const o = owners(source, async () => process42, () => found++);
  source.push(connect(1n, 42));
  o.drain();
  await settle();
  assert.equal(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), undefined);
  assert.equal(found, 0);
  source.push(established(1n, '198.18.0.1', 40000, '198.18.0.2', 80));
  o.drain();
  assert.equal(found, 1);
  assert.deepEqual(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), process42);
});

test('a process gone before it could be read keeps the name and uid the kernel gave, and its user is named', async () => {
  const source = new FakeSource();
  const o = owners(source, async () => undefined);
  source.push(connect(1n, 4321, 'wget'), established(1n, '198.18.0.1', 40000, '198.18.0.2', 80));
  o.drain();
  await settle();
  assert.deepEqual(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), { pid: 4321, name: 'wget', cmdline: '', user: 'alice', uid: 1000 });
});

test('a refused connection leaves nothing; the socket address may then serve another connect', async () => {
  const source = new FakeSource();
  const other: ProcessInfo = { ...process42, pid: 43, name: 'nc' };
  const o = owners(source, async (pid) => (pid === 42 ? process42 : other));
  source.push(connect(1n, 42), { socket: 1n, from: 2, to: 7 }, established(1n, '198.18.0.1', 40000, '198.18.0.2', 80));
  o.drain();
  await settle();
  assert.equal(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), undefined, 'ESTABLISHED without a SYN_SENT before it is no connect of ours');
  source.push(connect(1n, 43), established(1n, '198.18.0.1', 40002, '198.18.0.2', 80));
  o.drain();
  await settle();
  assert.equal(o.owner('198.18.0.1', 40002, '198.18.0.2', 80)?.pid, 43);
});

test('IPv6 connections, and IPv4 through a dual-stack socket, are found by the addresses packets carry', async () => {
  const source = new FakeSource();
  const o = owners(source, async () => process42);
  source.push(
    connect(1n, 42),
    established(1n, 'fd00::1', 40000, 'fd00::2', 443, 10),
    connect(2n, 42),
    established(2n, '::ffff:198.18.0.1', 40001, '::ffff:198.18.0.2', 443, 10),
  );
  o.drain();
  await settle();
  assert.equal(o.owner('fd00::1', 40000, 'fd00::2', 443)?.pid, 42);
  assert.equal(o.owner('198.18.0.1', 40001, '198.18.0.2', 443)?.pid, 42);
});

test('connections remembered are bounded: the least recently made are forgotten', async () => {
  const source = new FakeSource();
  const o = owners(source, async () => process42, undefined, 100);
  const events: FakeEvent[] = [];
  for (let i = 0; i < 150; i++) events.push(connect(BigInt(i + 1), 42), established(BigInt(i + 1), '198.18.0.1', 40000 + i, '198.18.0.2', 80));
  source.push(...events);
  o.drain();
  await settle();
  assert.equal(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), undefined);
  assert.equal(o.owner('198.18.0.1', 40149, '198.18.0.2', 80)?.pid, 42);
});

const asRoot = process.getuid?.() === 0;

test('the kernel names the process behind a connection that is gone a moment later', { skip: !asRoot && 'needs root (eBPF)' }, async (t) => {
  const opened = KernelOwners.open({ readProcess: (pid) => new ProcFs('/proc').readProcess(pid) });
  if (!(opened instanceof KernelOwners)) {
    t.skip(`eBPF unavailable here: ${opened.unavailable}`);
    return;
  }
  t.after(() => opened.close());
  const server = createServer((socket) => socket.end('hello')).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  // A child that connects, reads the greeting, prints its local port and exits.
  const child = spawn(process.execPath, ['-e', `const s=require('net').connect(${port},'127.0.0.1',()=>{console.log(s.localPort)});s.on('data',()=>{});s.on('close',()=>process.exit(0));`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  const localPort = Number(output.trim());
  assert.ok(localPort > 0, `the child printed its port: ${output}`);
  let owner: ProcessInfo | undefined;
  for (let i = 0; i < 100 && !owner; i++) {
    owner = opened.owner('127.0.0.1', localPort, '127.0.0.1', port);
    if (!owner) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(owner?.pid, child.pid);
  assert.equal(owner?.name, 'node');
  // The server's side of the same connection is no connect of this host's.
  assert.equal(opened.owner('127.0.0.1', port, '127.0.0.1', localPort), undefined);
});

test('connections completed are handed over once, as socket rows, when their process is known', async () => {
  const source = new FakeSource();
  let release!: (p: ProcessInfo) => void;
  const o = owners(source, (pid) => (pid === 42 ? Promise.resolve(process42) : new Promise((resolve) => (release = resolve))));
  source.push(connect(1n, 42), established(1n, '198.18.0.1', 40000, '198.18.0.2', 80), connect(2n, 7), established(2n, 'fd00::1', 40001, 'fd00::2', 443, 10));
  o.drain();
  await settle();
  const first = o.takeLearned();
  assert.deepEqual(first, [
    { socket: { protocol: 'tcp', localAddress: '198.18.0.1', localPort: 40000, remoteAddress: '198.18.0.2', remotePort: 80, inode: 0, uid: 1000, state: 1 }, owner: process42 },
  ]);
  const seven: ProcessInfo = { pid: 7, name: 'ssh', cmdline: 'ssh fd00::2', user: 'bob', uid: 1001 };
  release(seven);
  await settle();
  assert.deepEqual(o.takeLearned().map((l) => [l.socket.localAddress, l.owner.pid]), [['fd00::1', 7]]);
  assert.deepEqual(o.takeLearned(), []);
});

/** sched_process_exit as the program writes it: no record bytes, the task's pid_tgid, the kind. */
function exitEvent(pid: number): Buffer {
  const out = Buffer.alloc(LAYOUT.size);
  out.writeUInt32LE(pid, LAYOUT.pidAt);
  out.writeUInt32LE(pid, LAYOUT.pidAt + 4);
  out.writeUInt32LE(2, LAYOUT.kindAt);
  return out;
}

test('process ends are reported in a batch per drain', () => {
  const source = new FakeSource();
  const batches: number[][] = [];
  const o = new KernelOwners(source, LAYOUT, { readProcess: async () => undefined, onExit: (pids) => batches.push(pids) });
  // The kernel tells only of a process's last thread.
  source.waiting.push(Buffer.concat([exitEvent(100), exitEvent(300)]));
  o.drain();
  o.drain();
  assert.deepEqual(batches, [[100, 300]]);
});

test('events are taken when the source says they wait, then not again for WAKE_GAP_MS', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const source = new FakeSource();
  const batches: number[][] = [];
  const o = new KernelOwners(source, LAYOUT, { readProcess: async () => undefined, onExit: (pids) => batches.push(pids) });
  assert.equal(source.watches, 1, 'watching from the start');
  source.waiting.push(exitEvent(100));
  source.ready();
  assert.deepEqual(batches, [[100]], 'taken at once');
  assert.equal(source.watches, 1, 'not watched again at once: one wake-up takes many events');
  t.mock.timers.tick(WAKE_GAP_MS - 1);
  assert.equal(source.watches, 1, 'not before the gap');
  t.mock.timers.tick(1);
  assert.equal(source.watches, 2, 'watched again after the gap');
  o.close();
  source.ready();
  t.mock.timers.tick(WAKE_GAP_MS);
  assert.equal(source.watches, 2, 'a closed reader watches no more');
});

test('the kernel reports the end of a process at once, with no drain asked for', { skip: !asRoot && 'needs root (eBPF)' }, async (t) => {
  const exited: number[] = [];
  const opened = KernelOwners.open({ readProcess: async () => undefined, onExit: (pids) => exited.push(...pids) });
  if (!(opened instanceof KernelOwners)) {
    t.skip(`eBPF unavailable here: ${opened.unavailable}`);
    return;
  }
  t.after(() => opened.close());
  const child = spawn('sleep', ['0.05']);
  await new Promise((resolve) => child.once('exit', resolve));
  // The ring's fd wakes the event loop (watch): no timer and no drain() here.
  for (let i = 0; i < 100 && !exited.includes(child.pid!); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(exited.includes(child.pid!), `pid ${child.pid} among ${exited.length} ends`);
});

test("a process's end keeps the owner of its connections; a new process on the same pid is read afresh", async () => {
  const source = new FakeSource();
  const reused: ProcessInfo = { pid: 42, name: 'wget', cmdline: 'wget', user: 'bob', uid: 1001, startTime: 999 };
  let reads = 0;
  const o = new KernelOwners(source, LAYOUT, { readProcess: async () => (++reads === 1 ? process42 : reused) });
  source.push(connect(1n, 42), established(1n, '198.18.0.1', 40000, '198.18.0.2', 80));
  o.drain();
  await settle();
  // The process ends while packets of its connection are still to be accounted.
  source.waiting.push(exitEvent(42));
  o.drain();
  assert.deepEqual(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), process42);
  // The pid comes back as another program at once (well within the re-read period).
  source.push(connect(2n, 42, 'wget'), established(2n, '198.18.0.1', 40001, '198.18.0.2', 80));
  o.drain();
  await settle();
  assert.equal(reads, 2);
  assert.deepEqual(o.owner('198.18.0.1', 40001, '198.18.0.2', 80), reused);
  assert.deepEqual(o.owner('198.18.0.1', 40000, '198.18.0.2', 80), process42, 'the earlier connection stays with the process that made it');
});

test('only answers to connections asked for are announced, not every connection made after an ask', async () => {
  const source = new FakeSource();
  let found = 0;
  const o = owners(source, async () => process42, () => found++);
  // A connection from another host's namespace or made before netmeter started: never answered.
  assert.equal(o.owner('198.18.0.1', 39999, '198.18.0.9', 80), undefined);
  source.push(connect(1n, 42), established(1n, '198.18.0.1', 40000, '198.18.0.2', 80));
  o.drain();
  await settle();
  assert.equal(found, 0);
  // Asked, then answered: announced once.
  source.push(connect(2n, 42));
  o.drain();
  assert.equal(o.owner('198.18.0.1', 40001, '198.18.0.2', 80), undefined);
  source.push(established(2n, '198.18.0.1', 40001, '198.18.0.2', 80), connect(3n, 42), established(3n, '198.18.0.1', 40002, '198.18.0.2', 80));
  o.drain();
  assert.equal(found, 1);
});
