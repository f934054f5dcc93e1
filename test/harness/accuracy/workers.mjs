#!/usr/bin/env node
// Workload programs for the accuracy harness (run.mjs, memory.mjs, soak.mjs), beside
// test/harness/traffic.mjs, for the cases traffic.mjs does not cover: many short-lived TCP
// connections, a socket shared with a child process, a process that exits mid-transfer,
// many processes each moving a known amount, and a generator of many UDP flows.
//
// Plain Node ESM, no dependencies. One JSON object per stdout line:
//   {"event":"ready", pid, ...}     sockets set up (servers listening, clients connected)
//   {"event":"done", pid, ...}      and exit 0;  {"event":"error", pid, message} and exit 1
// Servers run until SIGTERM/SIGINT, then print {"event":"done", ...} with their counts.
//
// Modes:
//   http-server --bind A --port P [--delay-ms D]
//       per connection: reads a request line "GET <n>\n", waits D ms, answers n bytes, ends.
//   http-client --connect A --port P [--concurrency C] [--duration-ms T] [--request-size R]
//               [--response-size S] [--go-file F]
//       C loops, each: connect, send an R-byte request asking for S bytes, read to EOF,
//       close, again; for T ms. Every connection is short-lived (tens of ms with a server
//       delay). done: {connections, sentPayload, receivedPayload}.
//   sink-server --bind A --port P [--reply N] [--delay-ms D]
//       per connection: reads to EOF, waits D ms, then writes N bytes and ends; one
//       {"event":"closed", remoteAddress, remotePort, received, sent} per connection.
//   fork-share --connect A --port P --parent-bytes X --child-bytes Y --after-bytes Z
//       connects, sends X, then starts a child process that inherits the socket as fd 3
//       (both hold the same socket), the child sends Y and exits, then the parent sends Z,
//       half-closes and reads the reply to EOF. Lines: ready, child {childPid}, done.
//   fork-child               (internal: the child of fork-share; writes --bytes on fd 3)
//   exit-mid --connect A --port P --bytes N --exit-after-ms T
//       connects, writes N bytes as fast as the socket takes them, and exits (process.exit)
//       after T ms, mid-transfer: what the kernel still holds in the socket's send buffer
//       leaves after the process is gone. Lines: ready, exiting {written}.
//   count-server --bind A --port P [--delay-ms D]
//       per connection: reads "ID <pid> <n> <m>\n" and n bytes, waits D ms, writes m bytes,
//       ends; one {"event":"conn", remoteAddress, remotePort, clientPid, n, m} per connection.
//       (The clients are bash processes, see run.mjs: many-procs.)
//   udp-flows --connect A --port-base P --flows N [--sockets K] [--rounds R] [--pps X]
//             [--size S] [--go-file F]
//       K unconnected sockets send S-byte datagrams to N/K destination ports each, R rounds,
//       at most X datagrams per second: N distinct 4-tuples. Nothing needs to listen.
//   udp-trickle --connect A --port P [--pps X] [--size S] [--duration-ms T]
//       one unconnected socket sending S-byte datagrams at X per second (soak background).
// Common: --timeout SEC (default 60), --go-file F (wait for that file before sending).

import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const pid = process.pid;
const [mode, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i++) {
  const a = rest[i];
  if (!a.startsWith('--')) usage(`unexpected argument ${a}`);
  const key = a.slice(2);
  if (i + 1 >= rest.length) usage(`--${key} needs a value`);
  opts[key] = rest[++i];
}

function usage(msg) {
  process.stderr.write(`workers.mjs: ${msg}\n(see the comment at the top of this file)\n`);
  process.exit(2);
}

const num = (key, dflt) => {
  if (opts[key] === undefined) {
    if (dflt === undefined) usage(`--${key} is required`);
    return dflt;
  }
  const n = Number(opts[key]);
  if (!Number.isFinite(n) || n < 0) usage(`--${key} must be a non-negative number`);
  return n;
};
const str = (key, dflt) => {
  if (opts[key] === undefined) {
    if (dflt === undefined) usage(`--${key} is required`);
    return dflt;
  }
  return opts[key];
};

const emit = (obj) => process.stdout.write(`${JSON.stringify({ pid, ...obj })}\n`);
let finished = false;
function fail(error) {
  if (finished) return;
  finished = true;
  emit({ event: 'error', message: error instanceof Error ? error.message : String(error) });
  process.stdout.write('', () => process.exit(1));
  setTimeout(() => process.exit(1), 200).unref();
}
function succeed(fields) {
  if (finished) return;
  finished = true;
  emit({ event: 'done', ...fields });
  process.stdout.write('', () => process.exit(0));
}

const timeout = setTimeout(() => fail(`timed out after ${num('timeout', 60)} s`), num('timeout', 60) * 1000);
timeout.unref();

const PATTERN = Buffer.from('abcdefghijklmnopqrstuvwxyz');
function payload(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 26) PATTERN.copy(b, i, 0, Math.min(26, n - i));
  return b;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function waitGo() {
  const file = opts['go-file'];
  if (file === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (fs.existsSync(file)) {
        clearInterval(poll);
        resolve();
      }
    }, 10);
  });
}

function onStop(fn) {
  process.on('SIGTERM', fn);
  process.on('SIGINT', fn);
}

// --- short-lived HTTP-like connections ------------------------------------------------------
function httpServer() {
  const delay = num('delay-ms', 0);
  let connections = 0;
  let received = 0;
  let sent = 0;
  const server = net.createServer((sock) => {
    connections++;
    let buf = '';
    sock.on('error', () => {});
    sock.on('data', (d) => {
      received += d.length;
      if (buf === null) return;
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const m = /^GET (\d+)/.exec(buf);
      buf = null;
      const n = m ? Number(m[1]) : 0;
      setTimeout(() => {
        sent += n;
        sock.end(payload(n));
      }, delay);
    });
  });
  server.on('error', fail);
  server.listen({ host: str('bind'), port: num('port'), backlog: 1024 }, () => {
    const a = server.address();
    emit({ event: 'ready', localAddress: a.address, localPort: a.port });
  });
  onStop(() => succeed({ connections, receivedPayload: received, sentPayload: sent }));
}

function httpClient() {
  const host = str('connect');
  const port = num('port');
  const concurrency = num('concurrency', 8);
  const durationMs = num('duration-ms', 5000);
  const reqSize = Math.max(16, num('request-size', 200));
  const respSize = num('response-size', 2000);
  const request = Buffer.alloc(reqSize, 'x');
  request.write(`GET ${respSize}\n`, 0, 'latin1');
  let connections = 0;
  let sent = 0;
  let received = 0;
  let errors = 0;
  const one = () => new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let got = 0;
    sock.on('connect', () => sock.write(request, () => { sent += reqSize; }));
    sock.on('data', (d) => { got += d.length; });
    sock.on('error', () => { errors++; resolve(); });
    sock.on('end', () => {
      received += got;
      if (got !== respSize) errors++;
      connections++;
      sock.end();
    });
    sock.on('close', () => resolve());
  });
  emit({ event: 'ready', protocol: 'tcp', remoteAddress: host, remotePort: port });
  waitGo().then(async () => {
    const until = Date.now() + durationMs;
    const loop = async () => {
      while (Date.now() < until) await one();
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    if (errors > 0) fail(`${errors} connections failed or were short`);
    else succeed({ connections, sentPayload: sent, receivedPayload: received });
  }, fail);
}

// --- a sink for the special cases ---------------------------------------------------------------
function sinkServer() {
  const reply = num('reply', 0);
  const delay = num('delay-ms', 0);
  let connections = 0;
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    connections++;
    const remoteAddress = sock.remoteAddress;
    const remotePort = sock.remotePort;
    let received = 0;
    let sent = 0;
    sock.on('data', (d) => { received += d.length; });
    sock.on('error', () => {});
    sock.on('end', () => {
      setTimeout(() => {
        sent = reply;
        sock.end(payload(reply));
      }, delay);
    });
    sock.on('close', () => emit({ event: 'closed', remoteAddress, remotePort, received, sent }));
  });
  server.on('error', fail);
  server.listen({ host: str('bind'), port: num('port'), backlog: 512 }, () => {
    const a = server.address();
    emit({ event: 'ready', localAddress: a.address, localPort: a.port });
  });
  onStop(() => succeed({ connections }));
}

// --- a socket shared with a child ---------------------------------------------------------------
function writeAll(sock, n) {
  return new Promise((resolve, reject) => {
    if (n === 0) { resolve(); return; }
    sock.write(payload(n), (err) => (err ? reject(err) : resolve()));
  });
}

function forkShare() {
  const parentBytes = num('parent-bytes');
  const childBytes = num('child-bytes');
  const afterBytes = num('after-bytes');
  const sock = net.connect({ host: str('connect'), port: num('port'), allowHalfOpen: true });
  sock.on('error', fail);
  let received = 0;
  sock.on('data', (d) => { received += d.length; });
  sock.on('connect', async () => {
    emit({
      event: 'ready', protocol: 'tcp', localAddress: sock.localAddress, localPort: sock.localPort,
      remoteAddress: sock.remoteAddress, remotePort: sock.remotePort,
    });
    try {
      await waitGo();
      await writeAll(sock, parentBytes);
      // The child inherits the socket as fd 3: from now on two processes hold it.
      // The descriptor itself (a Stream in stdio would make Node stop reading it here).
      const child = spawn(process.execPath, [SELF, 'fork-child', '--bytes', String(childBytes)], {
        stdio: ['ignore', 'pipe', 'inherit', sock._handle.fd],
      });
      emit({ event: 'child', childPid: child.pid });
      let childOut = '';
      child.stdout.on('data', (d) => { childOut += d; });
      const code = await new Promise((resolve) => child.on('close', resolve));
      if (code !== 0) throw new Error(`the child exited with ${code}: ${childOut}`);
      await writeAll(sock, afterBytes);
      sock.end();
      sock.on('end', () => succeed({ childPid: child.pid, sentPayload: parentBytes + childBytes + afterBytes, receivedPayload: received }));
    } catch (error) {
      fail(error);
    }
  });
}

function forkChild() {
  const bytes = num('bytes');
  const sock = new net.Socket({ fd: 3, readable: false, writable: true });
  sock.on('error', fail);
  // Write, wait until the kernel took it all, and leave without shutting the socket down:
  // the parent still holds it.
  sock.write(payload(bytes), () => {
    emit({ event: 'done', written: bytes });
    process.stdout.write('', () => process.exit(0));
  });
}

// --- a process that exits mid-transfer ------------------------------------------------------------
function exitMid() {
  const bytes = num('bytes');
  const exitAfter = num('exit-after-ms');
  const sock = net.connect({ host: str('connect'), port: num('port') });
  sock.on('error', fail);
  sock.on('connect', () => {
    emit({
      event: 'ready', protocol: 'tcp', localAddress: sock.localAddress, localPort: sock.localPort,
      remoteAddress: sock.remoteAddress, remotePort: sock.remotePort,
    });
    waitGo().then(() => {
      sock.write(payload(bytes));
      setTimeout(() => {
        // bytesWritten counts what Node handed on; sock.writableLength is what the kernel has
        // not taken yet (lost at exit); the kernel's own send buffer still drains afterwards.
        const written = sock.bytesWritten - sock.writableLength;
        emit({ event: 'exiting', written });
        process.stdout.write('', () => process.exit(0));
      }, exitAfter);
    }, fail);
  });
}

// --- many processes, each a known amount ---------------------------------------------------------
function countServer() {
  const delay = num('delay-ms', 0);
  let connections = 0;
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    connections++;
    const remoteAddress = sock.remoteAddress;
    const remotePort = sock.remotePort;
    let header = null;
    let buf = Buffer.alloc(0);
    let body = 0;
    let replied = false;
    sock.on('error', () => {});
    sock.on('data', (d) => {
      if (header === null) {
        buf = Buffer.concat([buf, d]);
        const nl = buf.indexOf(10);
        if (nl < 0) return;
        const m = /^ID (\d+) (\d+) (\d+)$/.exec(buf.subarray(0, nl).toString('latin1'));
        if (!m) { sock.destroy(); return; }
        header = { clientPid: Number(m[1]), n: Number(m[2]), m: Number(m[3]) };
        body = buf.length - nl - 1;
      } else {
        body += d.length;
      }
      if (!replied && body >= header.n) {
        replied = true;
        setTimeout(() => sock.end(payload(header.m)), delay);
      }
    });
    sock.on('end', () => { if (!replied) sock.end(); });
    sock.on('close', () => emit({ event: 'conn', remoteAddress, remotePort, ...(header ?? {}), bodyReceived: body }));
  });
  server.on('error', fail);
  server.listen({ host: str('bind'), port: num('port'), backlog: 1024 }, () => {
    const a = server.address();
    emit({ event: 'ready', localAddress: a.address, localPort: a.port });
  });
  onStop(() => succeed({ connections }));
}

// --- many UDP flows (memory) and a UDP trickle (soak) -----------------------------------------------
function udpFlows() {
  const host = str('connect');
  const portBase = num('port-base');
  const flows = num('flows');
  const socketsN = num('sockets', 10);
  const rounds = num('rounds', 1);
  const pps = num('pps', 20000);
  const size = num('size', 16);
  const perSocket = Math.ceil(flows / socketsN);
  if (portBase + perSocket > 65535) usage('--port-base + flows/sockets must stay below 65536');
  const type = net.isIPv6(host) ? 'udp6' : 'udp4';
  const data = payload(size);
  const sockets = [];
  let bound = 0;
  for (let s = 0; s < socketsN; s++) {
    const sock = dgram.createSocket({ type });
    sock.on('error', () => {}); // ICMP port unreachable surfaces as ECONNREFUSED on some sends
    sock.bind(0, () => {
      if (++bound === socketsN) start();
    });
    sockets.push(sock);
  }
  async function start() {
    emit({ event: 'ready', protocol: 'udp', localPorts: sockets.map((s) => s.address().port) });
    await waitGo();
    let sent = 0;
    const began = Date.now();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < perSocket; i++) {
        for (let s = 0; s < socketsN && i * socketsN + s < flows; s++) {
          sockets[s].send(data, portBase + i, host);
          sent++;
        }
        // Pace in slices of ~10 ms worth of datagrams.
        if (sent % Math.max(1, Math.floor(pps / 100)) < socketsN) {
          const due = began + (sent / pps) * 1000;
          const wait = due - Date.now();
          await sleep(wait > 0 ? wait : 0);
        }
      }
    }
    await sleep(200);
    for (const s of sockets) s.close();
    succeed({ datagrams: sent, flows, seconds: (Date.now() - began) / 1000 });
  }
}

function udpTrickle() {
  const host = str('connect');
  const port = num('port');
  const pps = num('pps', 50);
  const size = num('size', 100);
  const durationMs = num('duration-ms', 60_000);
  const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
  sock.on('error', () => {});
  sock.bind(0, async () => {
    emit({ event: 'ready', protocol: 'udp', localPort: sock.address().port });
    await waitGo();
    const until = Date.now() + durationMs;
    let sent = 0;
    const data = payload(size);
    while (Date.now() < until) {
      sock.send(data, port, host);
      sent++;
      await sleep(1000 / pps);
    }
    sock.close();
    succeed({ datagrams: sent });
  });
}

const MODES = {
  'http-server': httpServer,
  'http-client': httpClient,
  'sink-server': sinkServer,
  'fork-share': forkShare,
  'fork-child': forkChild,
  'exit-mid': exitMid,
  'count-server': countServer,
  'udp-flows': udpFlows,
  'udp-trickle': udpTrickle,
};
if (!MODES[mode]) usage(`unknown mode ${JSON.stringify(mode ?? '')}`);
MODES[mode]();
