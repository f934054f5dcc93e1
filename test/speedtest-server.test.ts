// speedtest-server under abuse: the per-address request limit (with an injected clock),
// huge sizes, too many transfers at once, slow clients that never read or never finish
// sending, more connections than allowed — it keeps to its limits, keeps serving others,
// and its memory stays bounded. Also the limit bookkeeping and --listen parsing alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startSpeedtestServer } from '../src/speedtest/server.js';
import { WindowCounter } from '../src/speedtest/server-limits.js';
import { parseListen } from '../src/cli/speedtest-server.js';
import { CLI, REPO_ROOT, hasCommand } from './support/run-cli.js';
import { refusedPort } from './support/speedtest-stand-ins.js';

function get(port: number, path: string, options: { localAddress?: string; agent?: http.Agent } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

test('WindowCounter: the limit per key per window, a new window after windowMs, and a bounded number of keys', () => {
  let now = 0;
  const counter = new WindowCounter(60_000, 3, 2, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => counter.allow('a')), [true, true, true, false]);
  assert.equal(counter.allow('b'), true);
  now = 59_999;
  assert.equal(counter.allow('a'), false);
  now = 60_000;
  assert.equal(counter.allow('a'), true, 'a new minute');
  assert.equal(counter.allow('c'), true);
  assert.ok(counter.size <= 2, 'never more keys than maxKeys');
});

test('--listen: ADDR:PORT, [v6]:PORT, :PORT; anything else is a usage error', () => {
  assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('[::1]:9'), { host: '::1', port: 9 });
  assert.deepEqual(parseListen(':8080'), { host: '::', port: 8080 });
  for (const bad of ['8080', '127.0.0.1', 'host:99999', '[::1:80']) assert.throws(() => parseListen(bad), /--listen: .* is not ADDR:PORT/);
});

test('thousands of requests from one address: the per-minute limit answers 429, other addresses are still served', async () => {
  let clock = 0;
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false, now: () => clock, limits: { requestsPerMinute: 100 } });
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const statuses = await Promise.all(Array.from({ length: 2000 }, () => get(server.address.port, '/empty.php', { agent })));
    agent.destroy();
    assert.equal(statuses.filter((s) => s === 200).length, 100);
    assert.equal(statuses.filter((s) => s === 429).length, 1900);
    assert.equal(await get(server.address.port, '/empty.php', { localAddress: '127.0.0.2' }), 200, 'another address');
    clock = 60_000;
    assert.equal(await get(server.address.port, '/empty.php'), 200, 'the next minute');
  } finally {
    await server.close();
  }
});

test('huge or malformed sizes are refused without sending anything', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false, limits: { maxRequestBytes: 8 << 20 } });
  try {
    const port = server.address.port;
    assert.equal(await get(port, '/garbage.php?ckSize=1000000'), 413);
    assert.equal(await get(port, '/garbage.php?ckSize=99999999999999999999'), 400);
    assert.equal(await get(port, '/garbage.php?ckSize=-1'), 400);
    assert.equal(await get(port, '/backend/garbage.php?ckSize=9'), 413, 'under any prefix');
    assert.equal(await get(port, '/__down?bytes=1000000000000'), 413);
    assert.equal(await get(port, '/__down?bytes=8388608'), 200, 'exactly the limit is fine');
    assert.equal(await get(port, '/nothing-here'), 404);
  } finally {
    await server.close();
  }
});

test('more transfers at once than allowed: 503 for the extra one', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false, limits: { maxConcurrentTransfers: 2 } });
  const held: http.ClientRequest[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      // Downloads that are never read stay in progress.
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: server.address.port, path: '/garbage.php?ckSize=100', agent: false }, (res) => {
          res.pause();
          resolve();
        });
        req.on('error', () => {});
        held.push(req);
      });
    }
    assert.equal(await get(server.address.port, '/garbage.php?ckSize=1', { agent: new http.Agent() }), 503);
    held.forEach((r) => r.destroy());
  } finally {
    held.forEach((r) => r.destroy());
    await server.close();
  }
});

/** Resident memory of a process, in bytes. */
function rss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

/** The server side's established TCP connections on `port`, as the kernel lists them. */
function establishedOn(port: number): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '').length;
}

test('slow clients: 80 that never read and 20 that never finish an upload; memory stays bounded, idle ones are closed, others are served', { skip: !hasCommand('ss') && 'ss (iproute2) is not installed', timeout: 60_000 }, async () => {
  const port = await refusedPort();
  const child = spawn(process.execPath, [CLI, 'speedtest-server', '--listen', `127.0.0.1:${port}`, '--max-connections', '60', '--idle-timeout', '1s', '--no-udp'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const sockets: net.Socket[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => (d.toString().includes('listening on') ? resolve() : undefined));
      child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    const before = rss(child.pid!);
    const connected: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      connected.push(new Promise((resolve) => socket.once('connect', () => {
        if (i < 80) socket.write('GET /garbage.php?ckSize=200 HTTP/1.1\r\nHost: x\r\n\r\n');
        else socket.write('POST /empty.php HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc');
        socket.pause(); // and never read
        resolve();
      })));
      sockets.push(socket);
    }
    await Promise.all(connected);
    // The server closes every one: those over the connection limit at once, the rest when idle.
    // (The kernel completes handshakes before the server accepts, so `ss` briefly shows all 100.)
    let open = Infinity;
    for (let i = 0; i < 150 && open > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      open = establishedOn(port);
    }
    assert.equal(open, 0, 'all slow connections closed by the server');
    const after = rss(child.pid!);
    assert.ok(after - before < 100 << 20, `memory grew by ${((after - before) / 2 ** 20).toFixed(0)} MiB for 100 slow clients asking 20 GB`);
    assert.equal(await get(port, '/empty.php', { agent: new http.Agent() }), 200, 'still serving');
  } finally {
    sockets.forEach((s) => s.destroy());
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
  assert.equal(child.exitCode, 0, 'SIGTERM ends it cleanly');
});
