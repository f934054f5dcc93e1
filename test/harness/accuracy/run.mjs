#!/usr/bin/env node
// Ground-truth accuracy of netmeter's per-process attribution, side by side with nethogs.
//
//   sudo node test/harness/accuracy/run.mjs [--workloads a,b,...] [--quick] [--rate 50mbit]
//        [--netmeter dist/src/cli/main.js] [--no-nethogs] [--prefix nm-acc] [--json FILE]
//        [--markdown FILE] [--keep DIR] [--repeat N]
//
// For each workload it creates (once) two network namespaces joined by a veth pair
// (PREFIX-a: 198.18.1.1, fd00:1::1 on veth-a; PREFIX-b: 198.18.1.2, fd00:1::2 on veth-b), then:
//   1. starts, inside namespace A on the workload's interface (veth-a, or lo): tcpdump (the
//      byte-exact reference), `netmeter -i IF --duration 3600s --json` (stopped with SIGINT,
//      which prints the whole run's document) and `nethogs -t -v 2 -d 1 -C IF`;
//   2. runs the workload: processes whose sockets are known from their own JSON lines;
//   3. stops the three observers and scores each tool: every TCP/UDP frame of the reference
//      capture belongs to the process owning the local socket (from the workloads' lines);
//      a tool's bytes are "right" when credited to that process, "wrong" when credited to
//      another, "unknown" when in its unknown bucket, "missed" when not counted at all.
// Workloads (--workloads, default all, in this order): long-tcp, long-tcp-fast,
// short-tcp-client, short-tcp-server, udp-dns, udp-bulk, many-procs, fork-share, exit-mid,
// pid-reuse, udp-restart, loopback, loopback-paced (see workload() below for each).
// Both tools are scored per process (min(tool, truth) per owner); netmeter also per
// connection record (its JSON names the owner of every 4-tuple).
//
// The veth offloads are off (MTU-sized frames, as on a NIC) and both veth ends are limited to
// --rate (default 50mbit, a WAN link; "none" for no limit) except the long-tcp-fast workload.
// Output: a Markdown report on stdout (and --markdown FILE), the raw numbers with --json FILE.
// --repeat N runs the whole set N times (the machine is shared: single runs are noisy) and
// reports each share as the median with the range.
// Needs root, iproute2, tc, tcpdump, tshark, bash; nethogs for its columns.
//
// NETWORK: only between the namespaces made here and on their loopback interfaces.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_CLI, Net, ProcGroup, REPO, TRAFFIC, Truth, WORKERS, hasCommand, log, namedNode, pct, readCapture,
  scoreConnections, scoreProcesses, sleep, startObservers, stopObservers, truthFromCapture,
} from './lib.mjs';

// --- options ----------------------------------------------------------------------------------------
function parseOptions(argv) {
  const o = { workloads: undefined, quick: false, rate: '50mbit', netmeter: DEFAULT_CLI, nethogs: true, prefix: 'nm-acc', json: undefined, markdown: undefined, keep: undefined, repeat: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--workloads': o.workloads = val().split(',').filter(Boolean); break;
      case '--quick': o.quick = true; break;
      case '--rate': o.rate = val(); break;
      case '--netmeter': o.netmeter = path.resolve(val()); break;
      case '--no-nethogs': o.nethogs = false; break;
      case '--prefix': o.prefix = val(); break;
      case '--json': o.json = path.resolve(val()); break;
      case '--markdown': o.markdown = path.resolve(val()); break;
      case '--keep': o.keep = path.resolve(val()); break;
      case '--repeat': o.repeat = Number(val()); break;
      case '-h': case '--help':
        process.stdout.write(fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (o.rate === 'none') o.rate = null;
  return o;
}

// --- a workload's context ---------------------------------------------------------------------------
class Ctx {
  constructor(h, dir) {
    this.h = h;
    this.net = h.net;
    this.dir = dir;
    this.goFile = path.join(dir, 'go');
    this.truth = new Truth();
    this.notes = [];
    this.extra = {};
  }

  /** A node binary named after the workload (argv[0] and comm show it), in namespace A. */
  nodeAs(name) {
    return namedNode(this.h.binDir, name);
  }

  spawnIn(side, name, cmd, args) {
    const ns = side === 'a' ? this.net.nsA : this.net.nsB;
    return this.h.group.spawn(name, 'ip', ['netns', 'exec', ns, cmd, ...args]);
  }

  nodeIn(side, name, script, args) {
    return this.spawnIn(side, name, side === 'a' ? this.nodeAs(name) : process.execPath, [script, ...args]);
  }

  async traffic(side, name, mode, args, { go = true } = {}) {
    const p = this.nodeIn(side, name, TRAFFIC, [mode, ...args, ...(go ? ['--go-file', this.goFile] : ['--now']), '--timeout', '120']);
    p.ready = await p.event('ready');
    return p;
  }

  async worker(side, name, mode, args, { go = true } = {}) {
    const p = this.nodeIn(side, name, WORKERS, [mode, ...args, ...(go ? ['--go-file', this.goFile] : []), '--timeout', '120']);
    p.ready = await p.event('ready');
    return p;
  }

  go() {
    fs.writeFileSync(this.goFile, 'go\n');
  }
}

const done = (p, ms = 120_000) => p.event('done', ms);

// --- the workloads -------------------------------------------------------------------------------------
const WORKLOADS = [];
function workload(name, title, spec, run) {
  WORKLOADS.push({ name, title, ...spec, run });
}

workload('long-tcp', 'One long TCP transfer each way, IPv4 and IPv6 (4 connections, 4 processes)', {}, async (c, o) => {
  const n = o.quick ? 2_000_000 : 12_000_000;
  const { b4, b6 } = c.net;
  const specs = [
    { id: 'up4', peer: b4, port: 21001, send: n, expect: 0 },
    { id: 'down4', peer: b4, port: 21002, send: 0, expect: n },
    { id: 'up6', peer: b6, port: 21003, send: n, expect: 0 },
    { id: 'down6', peer: b6, port: 21004, send: 0, expect: n },
  ];
  const servers = await Promise.all(specs.map((s) => c.traffic('b', `srv-${s.id}`, 'tcp-server',
    ['--bind', s.peer, '--port', String(s.port), '--send', String(s.expect), '--expect', String(s.send)])));
  const clients = await Promise.all(specs.map((s) => c.traffic('a', `acc-${s.id}`, 'tcp-client',
    ['--connect', s.peer, '--port', String(s.port), '--send', String(s.send), '--expect', String(s.expect)])));
  await Promise.all(servers.map((s) => s.event('connection')));
  specs.forEach((s, i) => {
    const r = clients[i].ready;
    c.truth.owner(s.id, `${s.id} (${n / 1e6} MB ${s.send ? 'upload' : 'download'})`, [{ pid: r.pid, name: `acc-${s.id}` }]);
    c.truth.rule(s.id, { protocol: 'tcp', localPort: r.localPort, remoteAddress: s.peer, remotePort: s.port });
  });
  c.go();
  await Promise.all([...clients, ...servers].map((p) => done(p)));
});

workload('long-tcp-fast', 'The same, with no rate limit on the veth (stress: ~Gbit/s)', { rate: null }, async (c, o) => {
  await WORKLOADS.find((w) => w.name === 'long-tcp').run(c, o);
});

async function shortTcp(c, o, serverSide) {
  const durationMs = o.quick ? 2000 : 5000;
  const port = serverSide === 'a' ? 21011 : 21010;
  const bindAddr = serverSide === 'a' ? c.net.a4 : c.net.b4;
  const clientSide = serverSide === 'a' ? 'b' : 'a';
  const server = await c.worker(serverSide, serverSide === 'a' ? 'acc-http-srv' : 'srv-http', 'http-server',
    ['--bind', bindAddr, '--port', String(port), '--delay-ms', '20'], { go: false });
  const client = await c.worker(clientSide, clientSide === 'a' ? 'acc-http-cli' : 'cli-http', 'http-client',
    ['--connect', bindAddr, '--port', String(port), '--concurrency', '8', '--duration-ms', String(durationMs),
      '--request-size', '300', '--response-size', '3000']);
  const owner = serverSide === 'a' ? server : client;
  const name = serverSide === 'a' ? 'acc-http-srv' : 'acc-http-cli';
  c.truth.owner(name, serverSide === 'a' ? 'HTTP-like server (accepted sockets)' : 'HTTP-like client (ephemeral sockets)', [{ pid: owner.ready.pid, name }]);
  if (serverSide === 'a') c.truth.rule(name, { protocol: 'tcp', localPort: port });
  else c.truth.rule(name, { protocol: 'tcp', remoteAddress: bindAddr, remotePort: port });
  c.go();
  const cd = await done(client);
  // A server keeps running: stopping it at once would leave the last connections (whose
  // packets netmeter accounts ~0.1 s late) without a listener to fall back on.
  await sleep(1500);
  await server.stop('SIGTERM');
  const sd = server.events('done')[0];
  c.extra.connections = cd.connections;
  c.extra.connectionsPerSecond = Math.round(cd.connections / (durationMs / 1000));
  c.notes.push(`${cd.connections} connections in ${durationMs / 1000} s (${c.extra.connectionsPerSecond}/s), each ~20-30 ms; server counted ${sd?.connections}`);
}

workload('short-tcp-client', 'Short-lived TCP: an HTTP-like client in A hammering a server in B (8 at a time, ~25 ms each)', {}, (c, o) => shortTcp(c, o, 'b'));
workload('short-tcp-server', 'Short-lived TCP: an HTTP-like server in A hammered by a client in B', {}, (c, o) => shortTcp(c, o, 'a'));

workload('udp-dns', 'UDP request/response (DNS-like), unconnected sockets: 2 clients in A (v4, v6), 1 server in A (0.0.0.0)', {}, async (c, o) => {
  const count = o.quick ? 300 : 1000;
  const { a4, b4, b6 } = c.net;
  const common = ['--count', String(count), '--size', '60', '--reply-size', '300'];
  const servers = await Promise.all([
    c.traffic('b', 'srv-dns4', 'udp-server', ['--bind', b4, '--port', '21020', ...common]),
    c.traffic('b', 'srv-dns6', 'udp-server', ['--bind', b6, '--port', '21021', ...common]),
    c.traffic('a', 'acc-dnsd', 'udp-server', ['--bind', '0.0.0.0', '--port', '21022', ...common]),
  ]);
  const clients = await Promise.all([
    c.traffic('a', 'acc-dns4', 'udp-client', ['--connect', b4, '--port', '21020', ...common]),
    c.traffic('a', 'acc-dns6', 'udp-client', ['--connect', b6, '--port', '21021', ...common]),
    c.traffic('b', 'cli-dns', 'udp-client', ['--connect', a4, '--port', '21022', ...common]),
  ]);
  for (const [i, id] of ['acc-dns4', 'acc-dns6'].entries()) {
    c.truth.owner(id, `${id} (unconnected client, ${count} queries)`, [{ pid: clients[i].ready.pid, name: id }]);
    c.truth.rule(id, { protocol: 'udp', localPort: clients[i].ready.localPort });
  }
  c.truth.owner('acc-dnsd', `acc-dnsd (server on 0.0.0.0:21022, ${count} queries)`, [{ pid: servers[2].ready.pid, name: 'acc-dnsd' }]);
  c.truth.rule('acc-dnsd', { protocol: 'udp', localPort: 21022 });
  c.go();
  await Promise.all([...clients, ...servers].map((p) => done(p)));
});

workload('udp-bulk', 'UDP bulk (QUIC-like), unconnected sockets: 1200-byte datagrams up from a client in A, down from a server in A bound to fd00:1::1', {}, async (c, o) => {
  const count = o.quick ? 1000 : 4000;
  const { a6, b4 } = c.net;
  const up = ['--count', String(count), '--size', '1200', '--reply-size', '40'];
  const down = ['--count', String(count), '--size', '40', '--reply-size', '1200'];
  const servers = await Promise.all([
    c.traffic('b', 'srv-quic', 'udp-server', ['--bind', b4, '--port', '21030', ...up]),
    c.traffic('a', 'acc-quicd', 'udp-server', ['--bind', a6, '--port', '21031', ...down]),
  ]);
  const clients = await Promise.all([
    c.traffic('a', 'acc-quic-up', 'udp-client', ['--connect', b4, '--port', '21030', ...up]),
    c.traffic('b', 'cli-quic', 'udp-client', ['--connect', a6, '--port', '21031', ...down]),
  ]);
  c.truth.owner('acc-quic-up', `acc-quic-up (client, ${count} x 1200 B up)`, [{ pid: clients[0].ready.pid, name: 'acc-quic-up' }]);
  c.truth.rule('acc-quic-up', { protocol: 'udp', localPort: clients[0].ready.localPort });
  c.truth.owner('acc-quicd', `acc-quicd (server, ${count} x 1200 B down)`, [{ pid: servers[1].ready.pid, name: 'acc-quicd' }]);
  c.truth.rule('acc-quicd', { protocol: 'udp', localPort: 21031 });
  c.go();
  await Promise.all([...clients, ...servers].map((p) => done(p)));
});

workload('many-procs', 'Two hundred processes (bash, /dev/tcp), each moving a different known amount (1-21 KB up, 2-28 KB down), ~1 s each', {}, async (c, o) => {
  const n = o.quick ? 40 : 200;
  const { b4 } = c.net;
  const server = await c.worker('b', 'srv-count', 'count-server', ['--bind', b4, '--port', '21040', '--delay-ms', '800'], { go: false });
  const script = 'exec 3<>/dev/tcp/$0/$1 || exit 3; printf "ID %d %d %d\\n" $BASHPID $2 $3 >&3; printf "%*s" $2 "" >&3; '
    + 'read -r -N $3 -u 3 reply; [ ${#reply} -eq $3 ] || exit 4; exec 3>&-';
  const procs = [];
  for (let i = 0; i < n; i++) {
    const up = 1000 + 97 * i;
    const downN = 2000 + 131 * i;
    procs.push(c.spawnIn('a', `bash-${i}`, 'bash', ['-c', script, b4, '21040', String(up), String(downN)]));
    await sleep(10);
  }
  const codes = await Promise.all(procs.map((p) => p.exited));
  const failed = codes.filter((x) => x !== 0).length;
  if (failed) c.notes.push(`${failed} of ${n} bash clients failed`);
  await sleep(300);
  await server.stop('SIGTERM');
  const conns = server.events('conn');
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  for (const conn of conns) {
    if (!byPid.has(conn.clientPid)) {
      c.notes.push(`connection from unknown pid ${conn.clientPid}`);
      continue;
    }
    const id = `bash-${conn.clientPid}`;
    c.truth.owner(id, `bash ${conn.clientPid} (${conn.n} B up, ${conn.m} B down)`, [{ pid: conn.clientPid, name: 'bash' }]);
    c.truth.rule(id, { protocol: 'tcp', localPort: conn.remotePort, remoteAddress: b4, remotePort: 21040 });
  }
  c.notes.push(`${conns.length} processes, ${conns.length} connections`);
});

workload('fork-share', 'A process forks and shares its TCP socket with the child (parent 0.4 MB, child 1.5 MB, parent 0.4 MB)', { showCredit: true }, async (c) => {
  const { b4 } = c.net;
  const server = await c.worker('b', 'srv-sink', 'sink-server', ['--bind', b4, '--port', '21050', '--reply', '20000'], { go: false });
  const f = await c.worker('a', 'acc-forker', 'fork-share', ['--connect', b4, '--port', '21050',
    '--parent-bytes', '400000', '--child-bytes', '1500000', '--after-bytes', '400000']);
  c.go();
  const d = await done(f);
  await server.stop('SIGTERM');
  c.truth.owner('forker', `acc-forker ${f.ready.pid} and its child ${d.childPid}: either holds the socket`, [{ pid: f.ready.pid, name: 'acc-forker' }, { pid: d.childPid }]);
  c.truth.rule('forker', { protocol: 'tcp', localPort: f.ready.localPort, remoteAddress: b4, remotePort: 21050 });
  c.extra.parentPid = f.ready.pid;
  c.extra.childPid = d.childPid;
});

workload('exit-mid', 'Processes that exit mid-transfer (80 ms and 1.5 s after starting a 20 MB upload; the kernel drains the rest), started while the tools run', { showCredit: true }, async (c, o) => {
  const { b4 } = c.net;
  const server = await c.worker('b', 'srv-sink', 'sink-server', ['--bind', b4, '--port', '21060'], { go: false });
  const bytes = o.quick ? '5000000' : '20000000';
  const runs = [['acc-exit-fast', '80'], ['acc-exit-slow', '1500']];
  c.extra.exits = [];
  for (const [name, after] of runs) {
    const p = await c.worker('a', name, 'exit-mid', ['--connect', b4, '--port', '21060', '--bytes', bytes, '--exit-after-ms', after], { go: false });
    const ex = await p.event('exiting');
    const exitedAt = Date.now() / 1000;
    await p.exited;
    // The rest of the send buffer leaves after the exit; wait for the server to see it all.
    await server.until(() => server.events('closed').find((e) => e.remotePort === p.ready.localPort), `${name}'s connection closed`, 60_000);
    c.truth.owner(name, `${name} (exits ${after} ms into the upload)`, [{ pid: p.ready.pid, name }]);
    c.truth.rule(name, { protocol: 'tcp', localPort: p.ready.localPort, remoteAddress: b4, remotePort: 21060 });
    c.extra.exits.push({ name, pid: p.ready.pid, localPort: p.ready.localPort, exitedAt, writtenBeforeExit: ex.written });
    await sleep(300);
  }
  await server.stop('SIGTERM');
});

/** Spawns with a chosen pid: next pid = ns_last_pid + 1 (races with other forks on the host, so retried). */
async function spawnWithPid(c, pid, name, args) {
  for (let attempt = 0; attempt < 40; attempt++) {
    if (fs.existsSync(`/proc/${pid}`)) return undefined;
    fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const p = c.nodeIn('a', name, TRAFFIC, args);
    if (p.pid === pid) {
      p.ready = await p.event('ready');
      return p;
    }
    await p.stop('SIGKILL');
    await sleep(20);
  }
  return undefined;
}

workload('pid-reuse', 'A PID reused: acc-first moves 0.6 MB and exits, acc-second gets the same PID ~0.3 s later and moves 0.9 MB (each holds its connection ~1.2 s)', { showCredit: true }, async (c) => {
  const { b4 } = c.net;
  // The server answers 1 s after the client's EOF: each process holds its connection > 1 s,
  // so both tools see it (a shorter life is the short-lived-connection case, measured above).
  const server = await c.worker('b', 'srv-sink', 'sink-server', ['--bind', b4, '--port', '21070', '--reply', '50000', '--delay-ms', '1000'], { go: false });
  const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  let target;
  let first;
  for (let tries = 0; tries < 10 && !first; tries++) {
    const last = Number(fs.readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
    target = last + 300 + tries * 50;
    if (target >= pidMax - 10) target = 300 + tries * 50;
    first = await spawnWithPid(c, target, 'acc-first', ['tcp-client', '--connect', b4, '--port', '21070', '--send', '600000', '--expect', '50000', '--go-file', `${c.goFile}-1`, '--timeout', '60']);
  }
  if (!first) throw new Error('could not start a process with a chosen pid (ns_last_pid)');
  fs.writeFileSync(`${c.goFile}-1`, 'go\n');
  await done(first);
  await first.exited;
  await sleep(300);
  const second = await spawnWithPid(c, target, 'acc-second', ['tcp-client', '--connect', b4, '--port', '21070', '--send', '900000', '--expect', '50000', '--go-file', `${c.goFile}-2`, '--timeout', '60']);
  c.truth.owner('first', `acc-first (pid ${target})`, [{ pid: target, name: 'acc-first' }]);
  c.truth.rule('first', { protocol: 'tcp', localPort: first.ready.localPort, remoteAddress: b4, remotePort: 21070 });
  if (!second) {
    c.notes.push(`pid ${target} could not be given to a second process (taken meanwhile): no reuse this run`);
  } else {
    fs.writeFileSync(`${c.goFile}-2`, 'go\n');
    await done(second);
    c.truth.owner('second', `acc-second (pid ${target} again)`, [{ pid: target, name: 'acc-second' }]);
    c.truth.rule('second', { protocol: 'tcp', localPort: second.ready.localPort, remoteAddress: b4, remotePort: 21070 });
    c.notes.push(`pid ${target} reused ~0.3 s after acc-first exited`);
  }
  await server.stop('SIGTERM');
});

workload('udp-restart', 'A UDP service restarted on its port: acc-svc-old (unconnected, bound to 198.18.1.1:40123) exchanges 300 x 500 B with a peer and exits, acc-svc-new binds the same port and does the same: one 4-tuple, two processes in turn', { showCredit: true }, async (c, o) => {
  const { a4, b4 } = c.net;
  const count = o.quick ? 100 : 300;
  const args = ['--bind', a4, '--local-port', '40123', '--connect', b4, '--port', '21090', '--count', String(count), '--size', '500', '--reply-size', '500', '--pace-ms', '3'];
  const server = await c.traffic('b', 'srv-svc', 'udp-server', ['--bind', b4, '--port', '21090', '--count', String(2 * count), '--size', '500', '--reply-size', '500']);
  c.go();
  const old = await c.traffic('a', 'acc-svc-old', 'udp-client', args);
  await done(old);
  await old.exited;
  const switchAt = Date.now() / 1000;
  await sleep(500);
  const fresh = await c.traffic('a', 'acc-svc-new', 'udp-client', args);
  await done(fresh);
  await done(server);
  c.truth.owner('old', `acc-svc-old (pid ${old.ready.pid}), until it exited`, [{ pid: old.ready.pid, name: 'acc-svc-old' }]);
  c.truth.rule('old', { protocol: 'udp', localPort: 40123, toTs: switchAt });
  c.truth.owner('new', `acc-svc-new (pid ${fresh.ready.pid}), from its start`, [{ pid: fresh.ready.pid, name: 'acc-svc-new' }]);
  c.truth.rule('new', { protocol: 'udp', localPort: 40123, fromTs: switchAt });
  c.notes.push('the per-connection score does not apply: one 4-tuple belongs to two processes in turn');
});

workload('loopback', 'Loopback inside namespace A at full speed (64 KB segments): TCP over 127.0.0.1 and ::1, unconnected UDP over 127.0.0.1 (each side counts for its own socket)', { iface: 'lo' }, loopback);
workload('loopback-paced', 'The same on a loopback limited to 200 Mbit/s (tbf on namespace A\'s lo)', { iface: 'lo', loRate: '200mbit' }, loopback);

async function loopback(c, o) {
  const big = o.quick ? 1_000_000 : 4_000_000;
  const small = big / 2;
  const specs = [
    { id: '4', addr: '127.0.0.1', port: 21080 },
    { id: '6', addr: '::1', port: 21081 },
  ];
  const servers = await Promise.all(specs.map((s) => c.traffic('a', `acc-lo-srv${s.id}`, 'tcp-server',
    ['--bind', s.addr, '--port', String(s.port), '--send', String(big), '--expect', String(small)])));
  const udpCommon = ['--count', o.quick ? '300' : '1000', '--size', '400', '--reply-size', '800'];
  const usrv = await c.traffic('a', 'acc-lo-usrv', 'udp-server', ['--bind', '127.0.0.1', '--port', '21082', ...udpCommon]);
  const clients = await Promise.all(specs.map((s) => c.traffic('a', `acc-lo-cli${s.id}`, 'tcp-client',
    ['--connect', s.addr, '--port', String(s.port), '--send', String(small), '--expect', String(big)])));
  const ucli = await c.traffic('a', 'acc-lo-ucli', 'udp-client', ['--connect', '127.0.0.1', '--port', '21082', ...udpCommon]);
  await Promise.all(servers.map((s) => s.event('connection')));
  specs.forEach((s, i) => {
    const cl = clients[i].ready;
    c.truth.owner(`cli${s.id}`, `acc-lo-cli${s.id} (client socket)`, [{ pid: cl.pid, name: `acc-lo-cli${s.id}` }]);
    c.truth.rule(`cli${s.id}`, { protocol: 'tcp', localPort: cl.localPort, remotePort: s.port });
    c.truth.owner(`srv${s.id}`, `acc-lo-srv${s.id} (accepted socket)`, [{ pid: servers[i].ready.pid, name: `acc-lo-srv${s.id}` }]);
    c.truth.rule(`srv${s.id}`, { protocol: 'tcp', localPort: s.port });
  });
  c.truth.owner('ucli', 'acc-lo-ucli (unconnected UDP client)', [{ pid: ucli.ready.pid, name: 'acc-lo-ucli' }]);
  c.truth.rule('ucli', { protocol: 'udp', localPort: ucli.ready.localPort });
  c.truth.owner('usrv', 'acc-lo-usrv (UDP server)', [{ pid: usrv.ready.pid, name: 'acc-lo-usrv' }]);
  c.truth.rule('usrv', { protocol: 'udp', localPort: 21082 });
  c.go();
  await Promise.all([...clients, ...servers, ucli, usrv].map((p) => done(p)));
}

// --- one workload, observed ------------------------------------------------------------------------------
async function runWorkload(h, w, o, rep = 0) {
  const dir = path.join(h.work, o.repeat > 1 ? `${w.name}-${rep + 1}` : w.name);
  fs.mkdirSync(dir, { recursive: true });
  const iface = w.iface ?? h.net.ifA;
  const rate = iface === 'lo' ? w.loRate : ('rate' in w ? w.rate : o.rate);
  if (iface !== 'lo') h.net.setRate(rate ?? undefined);
  else h.net.setLoRate(w.loRate);
  const c = new Ctx(h, dir);
  const started = Date.now();
  const obs = await startObservers(h.group, h.net, { iface, dir, cli: o.netmeter, nethogs: o.nethogs });
  // Both tools have read /proc once; nethogs has refreshed once.
  await sleep(1200);
  let runError;
  try {
    await w.run(c, o);
  } catch (e) {
    runError = e;
  }
  // Trailing ACKs and FINs, and one more nethogs refresh.
  await sleep(2500);
  const stopped = await stopObservers(obs);
  await h.group.cleanup();
  if (runError) throw runError;
  const packets = readCapture(obs.pcap);
  const reference = truthFromCapture(packets, c.truth, h.net.localAddresses(iface));
  const report = stopped.report;
  const nmEntries = report.processes.map((p) => ({ pid: p.pid, name: `${p.name} ${p.cmdline}`, sentBytes: p.sentBytes, receivedBytes: p.receivedBytes }));
  const netmeter = scoreProcesses(c.truth, reference, nmEntries, report.unknown.bytes);
  const netmeterConn = c.truth.timeSplit ? undefined : scoreConnections(c.truth, reference, report.connections);
  const nethogs = stopped.nethogs ? scoreProcesses(c.truth, reference, stopped.nethogs.processes, stopped.nethogs.unknownBytes) : undefined;
  const ifRow = report.interfaces.find((i) => i.name === iface) ?? {};
  // Time-split of the exit-mid connections: bytes on the wire after the process was gone.
  if (c.extra.exits) {
    for (const e of c.extra.exits) {
      let total = 0;
      let after = 0;
      for (const p of packets) {
        if (p.protocol !== 'tcp' || (p.srcPort !== e.localPort && p.dstPort !== e.localPort)) continue;
        total += p.len;
        if (p.ts > e.exitedAt) after += p.len;
      }
      e.bytesAfterExit = after;
      e.bytesTotal = total;
      c.notes.push(`${e.name}: ${pct(total ? after / total : 0, 1)} of its connection's ${total} bytes crossed the wire after the process exited`);
    }
  }
  return {
    name: w.name, title: w.title, iface, rate: rate ?? 'none', seconds: (Date.now() - started) / 1000, showCredit: !!w.showCredit,
    packets: packets.length,
    reference: { trueBytes: reference.total, tcpUdpBytes: reference.tcpUdpBytes, unmatched: reference.unmatched, tcpdumpDropped: stopped.tcpdumpDropped },
    netmeter, netmeterConn, nethogs,
    nethogsUnknown: stopped.nethogs?.unknownByKind,
    interface: {
      rxBytes: ifRow.rxBytes, txBytes: ifRow.txBytes, kernelRxBytes: ifRow.kernelRxBytes, kernelTxBytes: ifRow.kernelTxBytes,
      droppedPackets: ifRow.droppedPackets ?? 0,
      captureBytes: packets.reduce((s, p) => s + p.len, 0),
    },
    netmeterSummary: {
      processes: report.processes.length, connections: report.connections.length, retiredConnections: report.retiredConnections,
      unknown: report.unknown, other: { packets: report.other.packets, bytes: report.other.bytes }, stderr: stopped.netmeterStderr,
    },
    notes: c.notes, extra: c.extra,
  };
}

// --- the report -------------------------------------------------------------------------------------------
const mb = (b) => (b / 1e6).toFixed(b < 1e6 ? 3 : 2);

function signedPct(a, b) {
  if (b === undefined || b === 0) return 'n/a';
  const d = (a - b) / b;
  return `${d >= 0 ? '+' : ''}${(d * 100).toFixed(3)}%`;
}

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** "99.52%", or with several runs "99.52% (98.10-100.00%)": the median and the range. */
function spread(values) {
  const m = pct(median(values));
  if (values.length < 2) return m;
  const lo = (Math.min(...values) * 100).toFixed(2);
  const hi = (Math.max(...values) * 100).toFixed(2);
  return lo === hi ? m : `${m} (${lo}-${hi}%)`;
}

/** runs: one array of workload results per repetition (--repeat); tables give medians and ranges, notes the last run. */
export function markdown(runs, o) {
  const results = runs[runs.length - 1];
  const all = (name) => runs.map((rs) => rs.find((r) => r.name === name)).filter(Boolean);
  const lines = [];
  lines.push(`Run: ${new Date().toISOString()}, ${os.hostname()}, ${os.cpus().length} cores, Linux ${os.release()}, node ${process.version}; veth rate limit ${o.rate ?? 'none'}${o.quick ? ', --quick sizes' : ''}${runs.length > 1 ? `; ${runs.length} runs: median (min-max)` : ''}.`);
  lines.push('');
  lines.push('### Bytes attributed to the right process (share of the true bytes)');
  lines.push('');
  lines.push('| workload | true bytes (MB) | netmeter right | wrong | unknown | missed | nethogs right | wrong | unknown | missed |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const rs = all(r.name);
    const col = (tool, key) => spread(rs.map((x) => x[tool][key]));
    const hc = r.nethogs ? [col('nethogs', 'rightShare'), col('nethogs', 'wrongShare'), col('nethogs', 'unknownShare'), col('nethogs', 'missedShare')] : ['—', '—', '—', '—'];
    lines.push(`| ${r.name} | ${mb(median(rs.map((x) => x.reference.trueBytes)))} | **${col('netmeter', 'rightShare')}** | ${col('netmeter', 'wrongShare')} | ${col('netmeter', 'unknownShare')} | ${col('netmeter', 'missedShare')} | **${hc[0]}** | ${hc[1]} | ${hc[2]} | ${hc[3]} |`);
  }
  lines.push('');
  lines.push('Per connection record (netmeter only; its JSON names each 4-tuple\'s owner):');
  lines.push('');
  lines.push('| workload | right | wrong | unknown | missed | over-counted |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const rs = all(r.name).filter((x) => x.netmeterConn);
    if (!rs.length) {
      lines.push(`| ${r.name} | n/a | n/a | n/a | n/a | n/a |`);
      continue;
    }
    const col = (key) => spread(rs.map((x) => x.netmeterConn[key]));
    lines.push(`| ${r.name} | ${col('rightShare')} | ${col('wrongShare')} | ${col('unknownShare')} | ${col('missedShare')} | ${col('overShare')} |`);
  }
  lines.push('');
  lines.push('### Interface reconciliation (netmeter: captured bytes vs the kernel counters\' change over the run)');
  lines.push('');
  if (runs.length > 1) lines.push('Bytes of the last run; the diff columns give every run\'s difference, worst first.\n');
  lines.push('| workload | interface | captured rx | kernel rx | diff | captured tx | kernel tx | diff | netmeter drops | tcpdump frames bytes |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const diffs = (rs, cap, ker) => rs.map((x) => [x.interface[cap], x.interface[ker]])
    .sort((a, b) => Math.abs((b[0] - b[1]) / (b[1] || 1)) - Math.abs((a[0] - a[1]) / (a[1] || 1)))
    .map(([c, k]) => signedPct(c, k)).join(', ');
  for (const r of results) {
    const i = r.interface;
    const rs = all(r.name);
    lines.push(`| ${r.name} | ${r.iface} | ${i.rxBytes} | ${i.kernelRxBytes ?? 'n/a'} | ${diffs(rs, 'rxBytes', 'kernelRxBytes')} | ${i.txBytes} | ${i.kernelTxBytes ?? 'n/a'} | ${diffs(rs, 'txBytes', 'kernelTxBytes')} | ${rs.map((x) => x.interface.droppedPackets).join(', ')} | ${i.captureBytes} |`);
  }
  lines.push('');
  lines.push('### Notes per workload');
  lines.push('');
  for (const r of results) {
    lines.push(`- **${r.name}** — ${r.title}. ${r.packets} frames, rate ${r.rate}, ${r.seconds.toFixed(1)} s.`);
    for (const note of r.notes) lines.push(`  - ${note}`);
    if (r.reference.unmatched.packets) lines.push(`  - ${r.reference.unmatched.packets} TCP/UDP frames (${r.reference.unmatched.bytes} B) of no workload socket, not scored: ${r.reference.unmatched.examples.join('; ')}`);
    if (r.reference.tcpdumpDropped) lines.push(`  - tcpdump dropped ${r.reference.tcpdumpDropped} packets: the reference is incomplete`);
    const wrongOwners = (s, tool) => {
      if (!s) return;
      for (const ow of s.owners) {
        const credited = ow.creditedTo.map((x) => `${x.name.split(' ')[0]}/${x.pid}: ${x.bytes}`).join(', ');
        if (r.showCredit || ow.creditedTo.length > 1 || Math.abs(ow.toolBytes - ow.trueBytes) > ow.trueBytes * 0.005) {
          lines.push(`  - ${tool}: ${ow.label}: true ${ow.trueBytes} B, credited ${ow.toolBytes} B${credited ? ` (${credited})` : ''}`);
        }
      }
      if (s.strays.length) lines.push(`  - ${tool}: credited to processes owning none of these sockets: ${s.strays.map((x) => `${x.name.split(' ')[0]}/${x.pid}: ${x.bytes}`).join(', ')}`);
    };
    if (r.name !== 'many-procs') {
      wrongOwners(r.netmeter, 'netmeter');
      wrongOwners(r.nethogs, 'nethogs');
    } else {
      for (const [tool, s] of [['netmeter', r.netmeter], ['nethogs', r.nethogs]]) {
        if (!s) continue;
        const exact = s.owners.filter((ow) => ow.toolBytes === ow.trueBytes).length;
        const off = s.owners.filter((ow) => Math.abs(ow.toolBytes - ow.trueBytes) > ow.trueBytes * 0.005).length;
        lines.push(`  - ${tool}: ${exact} of ${s.owners.length} processes exact, ${off} off by more than 0.5%`);
      }
    }
    if (r.nethogsUnknown?.some((u) => u.bytes > 0)) {
      lines.push(`  - nethogs unattributed: ${r.nethogsUnknown.filter((u) => u.bytes > 0).map((u) => `"${u.name}" ${u.bytes} B`).join(', ')}`);
    }
    if (r.netmeterConn?.wrongList.length) lines.push(`  - netmeter wrong records: ${r.netmeterConn.wrongList.map((x) => `${x.tuple} -> ${x.name}/${x.pid} (owner ${x.owner}, ${x.bytes} B)`).join('; ')}`);
    if (r.netmeterSummary.stderr) lines.push(`  - netmeter stderr: ${r.netmeterSummary.stderr.replace(/\n/g, ' / ')}`);
  }
  return lines.join('\n');
}

// --- main ----------------------------------------------------------------------------------------------------
export async function main(argv) {
  const o = parseOptions(argv);
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, packet capture): run it with sudo');
  for (const cmd of ['ip', 'tc', 'tcpdump', 'tshark', 'bash']) if (!hasCommand(cmd)) throw new Error(`needs ${cmd} on PATH`);
  if (o.nethogs && !hasCommand('nethogs')) {
    log('nethogs not found: its columns are left out (install nethogs, or pass --no-nethogs to silence this)');
    o.nethogs = false;
  }
  if (!fs.existsSync(o.netmeter)) throw new Error(`${o.netmeter} not found: build first (npx tsc -p tsconfig.json) or pass --netmeter`);
  const names = o.workloads ?? WORKLOADS.map((w) => w.name);
  for (const n of names) if (!WORKLOADS.some((w) => w.name === n)) throw new Error(`unknown workload ${n} (known: ${WORKLOADS.map((w) => w.name).join(', ')})`);
  const work = o.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nm-accuracy-'));
  fs.mkdirSync(work, { recursive: true });
  const h = { net: new Net(o.prefix), group: new ProcGroup(), work, binDir: path.join(work, 'bin') };
  const cleanup = async () => {
    await h.group.cleanup();
    h.net.down();
    if (!o.keep) fs.rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const runs = [];
  try {
    h.net.up();
    for (let rep = 0; rep < o.repeat; rep++) {
    const results = [];
    runs.push(results);
    for (const name of names) {
      const w = WORKLOADS.find((x) => x.name === name);
      log(`${o.repeat > 1 ? `run ${rep + 1}/${o.repeat} ` : ''}${name}: ${w.title}`);
      const r = await runWorkload(h, w, o, rep);
      results.push(r);
      log(`${name}: netmeter ${pct(r.netmeter.rightShare)} right (per connection ${r.netmeterConn ? pct(r.netmeterConn.rightShare) : 'n/a'}), nethogs ${r.nethogs ? pct(r.nethogs.rightShare) : 'n/a'}`);
    }
    }
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const md = markdown(runs, o);
  const results = runs[runs.length - 1];
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ options: { ...o, netmeter: path.relative(REPO, o.netmeter) }, results, runs }, null, 2));
  if (o.markdown) fs.writeFileSync(o.markdown, `${md}\n`);
  process.stdout.write(`${md}\n`);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/accuracy/run.mjs')) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`accuracy: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
