// The kernel's socket hooks (native/bpf/socket_owners.bpf.c) and how attribution joins what
// they tell with /proc:
// - KernelOwners.boundOwner from events as the programs write them: UDP ports bound or
//   autobound, TCP ports listened on (a TCP bind alone names nothing), wildcards as the
//   kernel delivers, the latest binder of a port, lost events;
// - LiveAttribution's rule (docs/design.md, attribution): for a port, the newer word wins —
//   the kernel's binder over an older read of /proc, a later read (the holder after fork or
//   fd passing) over the kernel's binder; no timed reads with the hooks, and what they told
//   joins the snapshot without a read;
// - for real, as root, in a network namespace of the test's own: a UDP server and a TCP
//   server that live less than 200 ms are named by the kernel (no read of /proc could: they
//   are gone when asked about), with the hooks and (the TCP listener) with the tracepoints alone; forced
//   fallbacks (NETMETER_KERNEL_EVENTS) say what runs; and through the whole pipeline
//   (`netmeter -i lo --json` in the namespace), the UDP server's packets are credited to it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { KernelOwners, type KernelOwnersOptions } from '../src/attribute/kernel-owners.js';
import { LiveAttribution } from '../src/attribute/live-attribution.js';
import type { ProcessInfo, SocketSnapshot } from '../src/attribute/types.js';
import type { Clock } from '../src/clock.js';
import { readFileSync, readdirSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { CLI, REPO_ROOT, hasCommand } from './support/run-cli.js';
import { ProcGroup, sleep, tempDir, waitExit, type Proc } from './support/live-harness.js';
import type { UsageReport } from '../src/present/usage-report.js';
import { FakeSource, LAYOUT, type FakeEvent } from './support/socket-event-fakes.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const UDP = 17;
const TCP = 6;
const TCP_LISTEN = 10;

function info(pid: number, name = `p${pid}`): ProcessInfo {
  return { pid, name, cmdline: name, user: 'root', uid: 0 };
}

/** A port bound as the programs tell it: bind()/autobind (UDP) or listen() (TCP, newstate LISTEN). */
function bound(protocol: 6 | 17, local: string, localPort: number, pid: number, listening = protocol === TCP): FakeEvent {
  return { kind: 4, protocol, socket: 0n, from: 0, to: listening ? TCP_LISTEN : 0, family: local.includes(':') ? 10 : 2, local, localPort, pid, comm: `p${pid}` };
}

function owners(source: FakeSource, extra: Partial<KernelOwnersOptions> = {}, now = () => 0): KernelOwners {
  return new KernelOwners(source, LAYOUT, { readProcess: async (pid) => info(pid), userName: () => 'root', now, ...extra }, 'socket hooks');
}

test('a UDP port bound is its binder\'s, at its address or through the wildcard, as the kernel delivers', async () => {
  const source = new FakeSource();
  const o = owners(source, {}, () => 5);
  source.push(bound(UDP, '127.0.0.1', 5353, 42), bound(UDP, '0.0.0.0', 53, 43), bound(UDP, '::', 123, 44), bound(UDP, 'fd00::1', 500, 45));
  o.drain();
  await settle();
  assert.deepEqual(o.boundOwner('udp', '127.0.0.1', 5353), { owner: info(42), at: 5 });
  assert.equal(o.boundOwner('udp', '127.0.0.2', 5353), undefined, 'another address of the port');
  assert.equal(o.boundOwner('udp', '198.18.0.1', 53)?.owner.pid, 43, "the IPv4 wildcard");
  assert.equal(o.boundOwner('udp', '198.18.0.1', 123)?.owner.pid, 44, 'IPv4 through the dual-stack wildcard');
  assert.equal(o.boundOwner('udp', '::ffff:198.18.0.1', 123)?.owner.pid, 44);
  assert.equal(o.boundOwner('udp', 'fd00::1', 500)?.owner.pid, 45);
  assert.equal(o.boundOwner('tcp', '127.0.0.1', 5353), undefined, 'the other protocol');
});

test('a TCP port is told by listen(), not by bind() alone; a later binder of a port replaces the earlier', async () => {
  const source = new FakeSource();
  const o = owners(source);
  source.push(bound(TCP, '0.0.0.0', 8080, 42, false));
  o.drain();
  await settle();
  assert.equal(o.boundOwner('tcp', '198.18.0.1', 8080), undefined, 'a bind before connect() names no port anything arrives on');
  source.push(bound(TCP, '0.0.0.0', 8080, 42), bound(UDP, '0.0.0.0', 9999, 50), bound(UDP, '0.0.0.0', 9999, 51));
  o.drain();
  await settle();
  assert.equal(o.boundOwner('tcp', '198.18.0.1', 8080)?.owner.pid, 42);
  assert.equal(o.boundOwner('udp', '198.18.0.1', 9999)?.owner.pid, 51, 'the port passed to another process (a restarted service)');
  // Handed over as socket rows for the snapshot (what `record` embeds).
  assert.deepEqual(o.takeLearned().map((l) => [l.socket.protocol, l.socket.localPort, l.socket.state, l.owner.pid]), [['tcp', 8080, TCP_LISTEN, 42], ['udp', 9999, 7, 50], ['udp', 9999, 7, 51]]);
});

test('a port asked for while its binder was being read is announced once it is; lost events ask for a read', async () => {
  const source = new FakeSource();
  let release!: (p: ProcessInfo) => void;
  let found = 0;
  let lost = 0;
  const o = owners(source, { readProcess: () => new Promise((resolve) => (release = resolve)), onFound: () => found++, onLost: () => lost++ });
  source.push(bound(UDP, '127.0.0.1', 5353, 42));
  assert.equal(o.boundOwner('udp', '127.0.0.1', 5353), undefined);
  release(info(42));
  await settle();
  assert.equal(found, 1);
  assert.equal(o.boundOwner('udp', '127.0.0.1', 5353)?.owner.pid, 42);
  source.dropped = 3;
  o.drain();
  o.drain();
  assert.equal(lost, 1, 'once per growth of the kernel\'s count');
});

/** A LiveAttribution on fake kernel events (the socket hooks) and reads of /proc the test gives. */
function withHooks(t: { mock: { timers: { enable: (o: { apis: Array<'setTimeout' | 'setInterval'> }) => void } } }) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const source = new FakeSource();
  let monotonic = 0;
  const clock: Clock = { now: () => 1_000_000 + monotonic, monotonic: () => monotonic } as Clock;
  const reads: SocketSnapshot[] = [];
  let held: SocketSnapshot = udpSnapshot(5353, 7);
  const refreshed: SocketSnapshot[] = [];
  const a = new LiveAttribution({
    clock,
    kernelEvents: (options) => new KernelOwners(source, LAYOUT, { ...options, readProcess: async (pid) => info(pid), userName: () => 'root' }, 'socket hooks'),
    takeSnapshot: async () => (reads.push(held), held),
    onRefresh: (s) => refreshed.push(s),
  });
  return {
    a, source, reads, refreshed,
    at: (ms: number) => (monotonic = ms),
    hold: (s: SocketSnapshot) => (held = s),
  };
}

function udpSnapshot(port: number, pid: number): SocketSnapshot {
  return {
    version: 1, takenAt: 0, localAddresses: ['127.0.0.1'],
    sockets: [{ protocol: 'udp', localAddress: '127.0.0.1', localPort: port, remoteAddress: '0.0.0.0', remotePort: 0, inode: 100 + pid, uid: 0, state: 7 }],
    owners: [[100 + pid, [pid]]],
    processes: [info(pid)],
  };
}

test("for a port, the newer word wins: the kernel's binder after a read, a later read's holder after the kernel", async (t) => {
  const h = withHooks(t);
  t.after(() => h.a.close());
  assert.equal(h.a.ownerSources.kernel, 'socket hooks');
  h.at(0);
  await h.a.refresh();
  assert.equal(h.a.owner('udp', '127.0.0.1', 5353, '127.0.0.1', 40000)?.pid, 7, 'what /proc read at start');
  // Process 7 ended; 42 binds the port after the read: the kernel's word is newer.
  h.at(10);
  h.source.push(bound(UDP, '127.0.0.1', 5353, 42));
  h.source.ready();
  await settle();
  assert.equal(h.a.owner('udp', '127.0.0.1', 5353, '127.0.0.1', 40000)?.pid, 42);
  // 42 handed the socket to 43 (fork, SCM_RIGHTS) and exited: a read after that shows the holder.
  h.at(20);
  h.hold(udpSnapshot(5353, 43));
  await h.a.refresh();
  assert.equal(h.a.owner('udp', '127.0.0.1', 5353, '127.0.0.1', 40000)?.pid, 43);
});

test('with the socket hooks, no timed reads; what the kernel told joins the snapshot without a read', async (t) => {
  const h = withHooks(t);
  t.after(() => h.a.close());
  await h.a.refresh();
  h.a.startPeriodicRefresh();
  t.mock.timers.tick(10_000);
  await settle();
  assert.equal(h.reads.length, 1, 'only the read at start');
  h.source.push(bound(UDP, '127.0.0.1', 6000, 42));
  h.source.ready();
  await settle();
  t.mock.timers.tick(1000);
  for (let i = 0; i < 5; i++) await settle();
  assert.equal(h.reads.length, 1, 'still no read of /proc');
  const last = h.refreshed.at(-1)!;
  assert.ok(last.sockets.some((s) => s.protocol === 'udp' && s.localPort === 6000), 'the kernel\'s port is in the snapshot passed on');
  // The ring overflowed: what the lost events said is read from /proc.
  h.source.dropped = 1;
  h.source.push(bound(UDP, '127.0.0.1', 6001, 42));
  h.source.ready();
  for (let i = 0; i < 5; i++) await settle();
  assert.equal(h.reads.length, 2, 'a read after lost events');
});

// --- the real kernel, in a network namespace of this test's own ---------------------------------

const asRoot = process.getuid?.() === 0;
const NETNS = `bpf-hk${process.pid % 100_000}`;
const PROBE = join(REPO_ROOT, 'dist', 'test', 'support', 'socket-hooks-probe.js');

function kernelSkipReason(): string | false {
  if (!asRoot) return 'needs root (loads eBPF programs, makes a network namespace)';
  if (!hasCommand('ip')) return 'needs ip (iproute2)';
  const kernel = KernelOwners.open({ readProcess: async () => undefined });
  if (!(kernel instanceof KernelOwners)) return `kernel events unavailable here: ${kernel.unavailable}`;
  kernel.close();
  return false;
}

interface ProbeResult {
  kernel: string;
  hooksUnavailable?: string;
  udp: { server: number; owner: number | null };
  tcp: { server: number; owner: number | null };
  reads: number;
}

/** Runs the probe inside the namespace with NETMETER_KERNEL_EVENTS=choice. */
function probe(choice: string): ProbeResult {
  const out = execFileSync('ip', ['netns', 'exec', NETNS, process.execPath, PROBE, choice], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(out) as ProbeResult;
}

test('for real: servers that live under 200 ms are named by the kernel, with the socket hooks and with the tracepoints alone', { skip: kernelSkipReason(), timeout: 90_000 }, (t) => {
  spawnSync('ip', ['netns', 'del', NETNS]);
  execFileSync('ip', ['netns', 'add', NETNS]);
  t.after(() => spawnSync('ip', ['netns', 'del', NETNS]));
  execFileSync('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);

  const all = probe('all');
  t.diagnostic(JSON.stringify(all));
  if (all.kernel !== 'socket hooks') {
    t.skip(`the socket hooks do not load here: ${all.hooksUnavailable}`);
    return;
  }
  assert.equal(all.udp.owner, all.udp.server, 'the UDP server (bound, answered, exited within 200 ms)');
  assert.equal(all.tcp.owner, all.tcp.server, 'the TCP server, through its accepted connection');

  const tracepoints = probe('tracepoints');
  t.diagnostic(JSON.stringify(tracepoints));
  assert.equal(tracepoints.kernel, 'tracepoints');
  assert.match(tracepoints.hooksUnavailable ?? '', /NETMETER_KERNEL_EVENTS=tracepoints/);
  assert.equal(tracepoints.tcp.owner, tracepoints.tcp.server, 'the listen() tracepoint names the TCP server');

  const off = probe('off');
  assert.equal(off.kernel, 'none');
});

/** Waits until pid holds a packet socket bound to an interface in its own network namespace (its capture is open). */
async function waitForCapture(proc: Proc, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode() !== undefined) throw new Error(`netmeter exited early: ${proc.stderr.all}`);
    try {
      const inodes = new Set(readdirSync(`/proc/${proc.pid}/fd`).map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${proc.pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      }));
      const bound = readFileSync(`/proc/${proc.pid}/net/packet`, 'utf8').split('\n').slice(1).some((line) => {
        const cols = line.trim().split(/\s+/);
        return cols.length >= 9 && cols[4] !== '0' && inodes.has(cols[8]);
      });
      if (bound) return;
    } catch {
      // not yet there
    }
    await sleep(50);
  }
  throw new Error(`netmeter opened no capture within ${timeoutMs} ms: ${proc.stderr.all}`);
}

const COUNT = 20;
// Answers COUNT datagrams and exits; never lives more than 200 ms after its bind.
const SHORT_UDP_SERVER = `const s=require('dgram').createSocket('udp4');let n=0;s.on('message',(m,r)=>s.send(Buffer.alloc(800),r.port,r.address,()=>{if(++n===${COUNT})process.exit(0)}));s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);setTimeout(()=>process.exit(3),200)});`;
// Started first (a node takes longer to start than the server may live): sends COUNT datagrams
// as soon as the server's port appears in the file named by its argument.
const UDP_CLIENT = `const fs=require('fs');const c=require('dgram').createSocket('udp4');let n=0;c.on('message',()=>{if(++n===${COUNT})process.exit(0)});console.log('ready');const go=setInterval(()=>{let p;try{p=Number(fs.readFileSync(process.argv[1],'utf8'))}catch{return}if(!p)return;clearInterval(go);for(let i=0;i<${COUNT};i++)c.send(Buffer.alloc(400),p,'127.0.0.1');setTimeout(()=>process.exit(4),2000)},2);`;

test('for real, through the whole pipeline: a UDP server that lives under 200 ms is credited its packets', { skip: kernelSkipReason(), timeout: 90_000 }, async (t) => {
  const netns = `${NETNS}p`;
  spawnSync('ip', ['netns', 'del', netns]);
  execFileSync('ip', ['netns', 'add', netns]);
  const group = new ProcGroup();
  t.after(async () => {
    await group.cleanup();
    spawnSync('ip', ['netns', 'del', netns]);
  });
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  const netmeter = group.spawn('netmeter', 'ip', ['netns', 'exec', netns, process.execPath, CLI, '-i', 'lo', '--duration', '4s', '--json']);
  await waitForCapture(netmeter);
  const tmp = tempDir('socket-hooks');
  t.after(() => tmp.remove());
  const portFile = join(tmp.dir, 'port');
  const client = group.spawn('client', 'ip', ['netns', 'exec', netns, process.execPath, '-e', UDP_CLIENT, portFile]);
  await client.stdout.waitFor((l) => l === 'ready', 'the client');
  const server = group.spawn('server', 'ip', ['netns', 'exec', netns, process.execPath, '-e', SHORT_UDP_SERVER]);
  writeFileSync(`${portFile}.new`, await server.stdout.waitFor((l) => /^\d+$/.test(l), 'the server\'s port'));
  renameSync(`${portFile}.new`, portFile);
  assert.equal(await waitExit(server, 10_000), 0, 'the server answered every datagram within 200 ms of its bind');
  assert.equal(await waitExit(client, 10_000), 0);
  assert.equal(await waitExit(netmeter, 30_000), 0, netmeter.stderr.all);
  const report = JSON.parse(netmeter.stdout.all) as UsageReport;
  t.diagnostic(`owners from ${JSON.stringify(report.source.owners)}`);
  if (report.source.owners?.kernel !== 'socket hooks') {
    t.skip(`the socket hooks do not load here: ${report.source.owners?.hooksUnavailable}`);
    return;
  }
  const credited = report.processes.find((p) => p.pid === server.pid);
  assert.ok(credited, `the server (pid ${server.pid}) is in the report: ${JSON.stringify(report.processes.map((p) => [p.pid, p.name]))}`);
  assert.equal(credited.receivedPackets, COUNT);
  assert.equal(credited.sentPackets, COUNT);
  assert.equal(report.unknown.bytes, 0, 'nothing unknown');
});
