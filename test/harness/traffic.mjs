#!/usr/bin/env node
// Workload program for fixture captures and live tests: moves an exact number of payload
// bytes over TCP or UDP between two processes, announcing its socket before it sends.
//
// Plain Node ESM, no dependencies. Protocol with the caller (one JSON object per stdout line):
//   {"event":"ready", pid, role, protocol, localAddress, localPort, remoteAddress, remotePort}
//       socket set up (server listening / bound; TCP client connected; UDP client bound and,
//       with --connected, connected). Nothing has been sent yet.
//   {"event":"connection", pid, protocol, localAddress, localPort, remoteAddress, remotePort}
//       tcp-server only: one per accepted connection (the accepted socket's 4-tuple).
//   then the process waits for the go signal: the file named by --go-file exists (polled
//   every 20 ms), or SIGUSR1, or nothing with --now;
//   {"event":"done", pid, role, protocol, sentPayload, receivedPayload, ...}  and exit 0
//   {"event":"error", pid, role, message}  and exit 1 (wrong byte counts, timeout, socket error)
//
// Modes and options:
//   tcp-server --bind ADDR --port P [--send N] [--expect M] [--connections K]
//       listens on ADDR:P ("::" is dual-stack), accepts K connections (default 1); on each,
//       after go, sends N payload bytes then half-closes, reads until EOF expecting M bytes.
//   tcp-client --connect ADDR --port P [--bind ADDR] [--local-port P] [--send N] [--expect M]
//       connects before "ready"; after go sends N bytes, half-closes, reads M bytes until EOF.
//   udp-server --bind ADDR --port P --count K [--size S] [--reply-size R]
//       unconnected socket bound to ADDR:P (a specific address or 0.0.0.0 / ::); receives K
//       datagrams in all, answering each with R bytes to its sender (default: echo the same
//       size; 0 = no reply). --size S, if given, is checked on every datagram received.
//   udp-client --connect ADDR --port P --count K --size S [--reply-size R] [--connected]
//              [--bind ADDR] [--local-port P] [--pace-ms MS] [--burst]
//       socket bound before "ready" (to --bind or the wildcard of the family, port
//       --local-port or ephemeral); with --connected it is connect()ed and uses send(),
//       otherwise it sends with sendto to ADDR:P. Sends K datagrams of S bytes; when a reply
//       is expected (R > 0, default R = S) it waits for each reply before the next request
//       (--burst: send all, then collect the replies).
// Common: --go-file PATH, --now, --timeout SEC (default 30; error and exit 1 after it).
// Payload bytes are a repeating 'a'..'z' pattern.

import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';

const MODES = new Set(['tcp-server', 'tcp-client', 'udp-server', 'udp-client']);
const FLAGS = new Set(['connected', 'now', 'burst']);
const VALUED = new Set([
  'bind', 'port', 'connect', 'local-port', 'send', 'expect', 'connections', 'count', 'size',
  'reply-size', 'pace-ms', 'go-file', 'timeout',
]);

function usage(msg) {
  process.stderr.write(`traffic.mjs: ${msg}\n` +
    'usage: node test/harness/traffic.mjs tcp-server|tcp-client|udp-server|udp-client [options]\n' +
    '       (see the comment at the top of this file for the options)\n');
  process.exit(2);
}

function parseArgs(argv) {
  const mode = argv[0];
  if (!MODES.has(mode)) usage(`unknown mode ${JSON.stringify(mode ?? '')}`);
  const opts = {};
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) usage(`unexpected argument ${a}`);
    let key = a.slice(2);
    let value;
    const eq = key.indexOf('=');
    if (eq >= 0) { value = key.slice(eq + 1); key = key.slice(0, eq); }
    if (FLAGS.has(key)) {
      if (value !== undefined) usage(`--${key} takes no value`);
      opts[key] = true;
    } else if (VALUED.has(key)) {
      if (value === undefined) {
        if (i + 1 >= argv.length) usage(`--${key} needs a value`);
        value = argv[++i];
      }
      opts[key] = value;
    } else {
      usage(`unknown option --${key}`);
    }
  }
  return { mode, opts };
}

function intOpt(opts, key, dflt) {
  if (opts[key] === undefined) {
    if (dflt === undefined) usage(`--${key} is required`);
    return dflt;
  }
  const n = Number(opts[key]);
  if (!Number.isInteger(n) || n < 0) usage(`--${key} must be a non-negative integer`);
  return n;
}

function strOpt(opts, key, dflt) {
  if (opts[key] === undefined) {
    if (dflt === undefined) usage(`--${key} is required`);
    return dflt;
  }
  return opts[key];
}

const { mode, opts } = parseArgs(process.argv.slice(2));
const pid = process.pid;
const protocol = mode.startsWith('tcp') ? 'tcp' : 'udp';

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

let finished = false;
function fail(message) {
  if (finished) return;
  finished = true;
  emit({ event: 'error', pid, role: mode, message: message instanceof Error ? message.message : String(message) });
  process.exitCode = 1;
  // Let stdout drain, then leave even if sockets are still open.
  setTimeout(() => process.exit(1), 50).unref();
  setImmediate(() => process.stdout.write('', () => process.exit(1)));
}

function succeed(fields) {
  if (finished) return;
  finished = true;
  emit({ event: 'done', pid, role: mode, protocol, ...fields });
  process.stdout.write('', () => process.exit(0));
}

const timeoutSec = intOpt(opts, 'timeout', 30);
const timer = setTimeout(() => fail(`timed out after ${timeoutSec} s`), timeoutSec * 1000);
timer.unref();

function payload(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = 97 + (i % 26);
  return b;
}

// --- the go signal --------------------------------------------------------------------
let goResolve;
const goPromise = new Promise((resolve) => { goResolve = resolve; });
let goStarted = false;
function waitForGo() {
  if (goStarted) return goPromise;
  goStarted = true;
  if (opts.now) { goResolve(); return goPromise; }
  process.on('SIGUSR1', () => goResolve());
  const goFile = opts['go-file'];
  if (goFile !== undefined) {
    const poll = setInterval(() => {
      if (fs.existsSync(goFile)) { clearInterval(poll); goResolve(); }
    }, 20);
    goPromise.then(() => clearInterval(poll));
  } else {
    // Keep the event loop alive while waiting for SIGUSR1.
    const keep = setInterval(() => {}, 1 << 30);
    goPromise.then(() => clearInterval(keep));
  }
  return goPromise;
}

function ready(local, remote, extra = {}) {
  emit({
    event: 'ready', pid, role: mode, protocol,
    localAddress: local.address, localPort: local.port,
    remoteAddress: remote ? remote.address : null, remotePort: remote ? remote.port : null,
    ...extra,
  });
}

// --- TCP ----------------------------------------------------------------------------------
// Runs one connection's exchange after go: send N, half-close, read to EOF, expect M.
function tcpExchange(sock, sendN, expectM) {
  return new Promise((resolve, reject) => {
    let received = 0;
    let ended = false;
    let wrote = false;
    sock.on('data', (d) => { received += d.length; });
    sock.on('error', reject);
    sock.on('end', () => { ended = true; check(); });
    sock.on('close', () => {
      if (!ended || !wrote) reject(new Error('connection closed before the exchange finished'));
    });
    function check() {
      if (ended && wrote) {
        if (received !== expectM) reject(new Error(`received ${received} payload bytes, expected ${expectM}`));
        else resolve({ sent: sendN, received });
      }
    }
    waitForGo().then(() => {
      const done = () => { wrote = true; check(); };
      if (sendN > 0) sock.end(payload(sendN), done);
      else sock.end(done);
    });
  });
}

function tcpServer() {
  const bind = strOpt(opts, 'bind');
  const port = intOpt(opts, 'port');
  const sendN = intOpt(opts, 'send', 0);
  const expectM = intOpt(opts, 'expect', 0);
  const k = intOpt(opts, 'connections', 1);
  let accepted = 0;
  let completed = 0;
  let sent = 0;
  let received = 0;
  const server = net.createServer({ allowHalfOpen: true });
  server.on('error', fail);
  server.on('connection', (sock) => {
    accepted++;
    if (accepted > k) { sock.destroy(); return; } // exactly K connections; the listener stays
    emit({
      event: 'connection', pid, protocol: 'tcp',
      localAddress: sock.localAddress, localPort: sock.localPort,
      remoteAddress: sock.remoteAddress, remotePort: sock.remotePort,
    });
    tcpExchange(sock, sendN, expectM).then((r) => {
      sent += r.sent; received += r.received; completed++;
      if (completed === k) {
        server.close();
        succeed({ sentPayload: sent, receivedPayload: received, connections: k });
      }
    }, fail);
  });
  server.listen({ host: bind, port, ipv6Only: false, backlog: Math.max(k, 8) }, () => {
    ready(server.address(), null);
    waitForGo();
  });
}

function tcpClient() {
  const host = strOpt(opts, 'connect');
  const port = intOpt(opts, 'port');
  const sendN = intOpt(opts, 'send', 0);
  const expectM = intOpt(opts, 'expect', 0);
  const connOpts = { host, port, allowHalfOpen: true };
  if (opts.bind !== undefined) connOpts.localAddress = opts.bind;
  if (opts['local-port'] !== undefined) connOpts.localPort = intOpt(opts, 'local-port');
  const sock = net.connect(connOpts);
  sock.once('error', fail);
  sock.once('connect', () => {
    ready({ address: sock.localAddress, port: sock.localPort },
      { address: sock.remoteAddress, port: sock.remotePort });
    tcpExchange(sock, sendN, expectM).then(
      (r) => succeed({ sentPayload: r.sent, receivedPayload: r.received }), fail);
  });
}

// --- UDP ----------------------------------------------------------------------------------
function udpType(addr) {
  return net.isIPv6(addr) ? 'udp6' : 'udp4';
}

function udpServer() {
  const bind = strOpt(opts, 'bind');
  const port = intOpt(opts, 'port');
  const count = intOpt(opts, 'count');
  const size = opts.size === undefined ? null : intOpt(opts, 'size');
  const replySize = opts['reply-size'] === undefined ? null : intOpt(opts, 'reply-size');
  const sock = dgram.createSocket({ type: udpType(bind), ipv6Only: false });
  let receivedDatagrams = 0;
  let received = 0;
  let sentDatagrams = 0;
  let sent = 0;
  let pendingReplies = 0;
  const finish = () => {
    if (receivedDatagrams === count && pendingReplies === 0) {
      sock.close();
      succeed({ sentPayload: sent, receivedPayload: received, sentDatagrams, receivedDatagrams });
    }
  };
  sock.on('error', fail);
  sock.on('message', (msg, rinfo) => {
    if (finished) return;
    receivedDatagrams++;
    received += msg.length;
    if (receivedDatagrams > count) { fail(`received more than ${count} datagrams`); return; }
    if (size !== null && msg.length !== size) { fail(`received a datagram of ${msg.length} bytes, expected ${size}`); return; }
    const r = replySize === null ? msg.length : replySize;
    if (r > 0) {
      pendingReplies++;
      sock.send(payload(r), rinfo.port, rinfo.address, (err) => {
        if (err) { fail(err); return; }
        pendingReplies--; sentDatagrams++; sent += r;
        finish();
      });
    } else {
      finish();
    }
  });
  sock.bind({ address: bind, port, exclusive: true }, () => {
    ready(sock.address(), null);
    waitForGo();
  });
}

function udpClient() {
  const host = strOpt(opts, 'connect');
  const port = intOpt(opts, 'port');
  const count = intOpt(opts, 'count');
  const size = intOpt(opts, 'size');
  const replySize = opts['reply-size'] === undefined ? size : intOpt(opts, 'reply-size');
  const paceMs = intOpt(opts, 'pace-ms', 0);
  const connected = !!opts.connected;
  const type = udpType(host);
  const bindAddr = opts.bind ?? (type === 'udp6' ? '::' : '0.0.0.0');
  const sock = dgram.createSocket({ type, ipv6Only: false });
  let sent = 0;
  let sentDatagrams = 0;
  let received = 0;
  let receivedDatagrams = 0;
  let replyWaiter = null;
  sock.on('error', fail);
  sock.on('message', (msg) => {
    receivedDatagrams++;
    received += msg.length;
    if (replySize > 0 && msg.length !== replySize) fail(`received a reply of ${msg.length} bytes, expected ${replySize}`);
    if (receivedDatagrams > count) fail(`received more than ${count} replies`);
    if (replyWaiter) { const w = replyWaiter; replyWaiter = null; w(); }
  });
  const sendOne = () => new Promise((resolve, reject) => {
    const cb = (err) => (err ? reject(err) : resolve());
    if (connected) sock.send(payload(size), cb);
    else sock.send(payload(size), port, host, cb);
  });
  const waitReplies = (n) => new Promise((resolve) => {
    const check = () => { if (receivedDatagrams >= n) resolve(); else replyWaiter = check; };
    check();
  });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function run() {
    await waitForGo();
    for (let i = 0; i < count; i++) {
      await sendOne();
      sent += size; sentDatagrams++;
      if (replySize > 0 && !opts.burst) await waitReplies(i + 1);
      if (paceMs > 0 && i + 1 < count) await sleep(paceMs);
    }
    if (replySize > 0) await waitReplies(count);
    sock.close();
    succeed({ sentPayload: sent, receivedPayload: received, sentDatagrams, receivedDatagrams });
  }
  const bindOpts = { address: bindAddr, exclusive: true };
  if (opts['local-port'] !== undefined) bindOpts.port = intOpt(opts, 'local-port');
  sock.bind(bindOpts, () => {
    const afterSetup = () => {
      // An unconnected client names where its datagrams go as peerAddress/peerPort.
      ready(sock.address(), connected ? sock.remoteAddress() : null,
        connected ? {} : { peerAddress: host, peerPort: port });
      run().catch(fail);
    };
    if (connected) sock.connect(port, host, afterSetup);
    else afterSetup();
  });
}

({ 'tcp-server': tcpServer, 'tcp-client': tcpClient, 'udp-server': udpServer, 'udp-client': udpClient })[mode]();
