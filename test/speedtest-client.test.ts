// `netmeter speedtest` against netmeter's own server on 127.0.0.1 and ::1: every figure of
// the result is there and consistent with the bytes that moved, both protocols work, the
// UDP probes see no loss on loopback and full loss when nothing echoes, and the CLI prints
// the document and the lines. Rates are not asserted (timings belong in benchmarks).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSpeedtestServer } from '../src/speedtest/server.js';
import { runSpeedtest, type SpeedtestRequest } from '../src/speedtest/run.js';
import { measurePacketLoss } from '../src/speedtest/udp-probe.js';
import type { SpeedtestResult } from '../src/speedtest/result.js';
import { runCli } from './support/run-cli.js';
import { QUICK_METHOD, refusedPort } from './support/speedtest-stand-ins.js';
import { networkInterfaces } from 'node:os';
import { progressPrinter } from '../src/speedtest/format.js';

const NO_DEFAULTS = { server: 'http://127.0.0.1:1/', serverList: 'http://127.0.0.1:1/list' };

function request(url: string, extra: Partial<SpeedtestRequest> = {}): SpeedtestRequest {
  return {
    server: { url, defaults: NO_DEFAULTS, selectionPings: 1 },
    method: QUICK_METHOD,
    pingCount: 3,
    loadedPingIntervalMs: 50,
    stallMs: 5000,
    packetLoss: { count: 20, intervalMs: 2, waitMs: 300 },
    ...extra,
  };
}

function checkComplete(r: SpeedtestResult, family: 4 | 6): void {
  assert.equal(r.status, 'complete', r.error ?? '');
  assert.equal(r.error, null);
  assert.equal(r.version, 1);
  assert.equal(r.path.family, family);
  assert.equal(r.path.interface, 'lo');
  assert.equal(r.path.localAddress, family === 4 ? '127.0.0.1' : '::1');
  assert.equal(r.path.publicAddress, family === 4 ? '127.0.0.1' : '::1', 'getIP answers with the client address');
  assert.equal(r.server.address, family === 4 ? '127.0.0.1' : '::1');
  assert.match(r.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Date.parse(r.finishedAt) >= Date.parse(r.startedAt));
  assert.equal(r.idleLatency!.samples, 3);
  assert.ok(r.idleLatency!.medianMs! > 0 && r.idleLatency!.jitterMs! >= 0);
  for (const d of [r.download!, r.upload!]) {
    assert.ok(d.mbps! > 0, 'a rate');
    assert.ok(d.durationMs >= 300 - 60 && d.durationMs <= 600 + 100, `counted window within the settings: ${d.durationMs}`);
    assert.ok(d.warmupMs >= 100, 'warm-up at least warmupMinMs');
    // Goodput is exactly counted bytes over counted time.
    assert.ok(Math.abs(d.mbps! - (d.countedBytes * 8) / (d.durationMs / 1000) / 1e6) <= d.mbps! * 0.01);
    assert.ok(d.streams === 2 && d.requests >= 2);
    assert.ok(d.loadedLatency.samples >= 1, 'round trips under load');
    assert.ok(d.wireMbps === null || d.wireMbps > 0);
  }
  // Everything counted went through the sockets, which also carried the warm-up.
  assert.ok(r.bytesUsed.received > r.download!.countedBytes);
  assert.ok(r.bytesUsed.sent > r.upload!.countedBytes);
  assert.equal(r.bytesUsed.total, r.bytesUsed.received + r.bytesUsed.sent);
  assert.deepEqual(r.packetLoss, { sent: 20, received: 20, lossPercent: 0 });
}

for (const [host, family] of [['127.0.0.1', 4], ['::1', 6]] as const) {
  test(`LibreSpeed protocol against netmeter's server on ${host}`, async () => {
    const server = await startSpeedtestServer({ host, port: 0 });
    try {
      const shown = family === 6 ? `[${host}]` : host;
      const r = await runSpeedtest(request(`http://${shown}:${server.address.port}/`));
      checkComplete(r, family);
      assert.equal(r.server.protocol, 'librespeed', 'detected: empty.php answers first');
    } finally {
      await server.close();
    }
  });
}

test('Cloudflare-style protocol against netmeter\'s server, asked for by --protocol', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0 });
  try {
    const r = await runSpeedtest(request(`http://127.0.0.1:${server.address.port}/`, { server: { url: `http://127.0.0.1:${server.address.port}/`, protocol: 'cloudflare', defaults: NO_DEFAULTS, selectionPings: 1 } }));
    checkComplete(r, 4);
    assert.equal(r.server.protocol, 'cloudflare');
  } finally {
    await server.close();
  }
});

test('the server logs one line per test, when the client went quiet', async () => {
  const lines: string[] = [];
  let clock = 0;
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, log: (l) => lines.push(l), now: () => clock, udp: false });
  try {
    const r = await runSpeedtest(request(`http://127.0.0.1:${server.address.port}/`));
    assert.equal(r.status, 'complete', r.error ?? '');
    assert.equal(r.packetLoss, null, 'no UDP port announced: no probes');
    assert.equal(lines.length, 0, 'still one test while the clock stands');
  } finally {
    clock = 60_000;
    await server.close();
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /test from 127\.0\.0\.1 librespeed: down \d+\.\d MB, up \d+\.\d MB, \d+ requests in \d+\.\d s, 0 refused$/);
});

test('UDP probes: full loss when nothing echoes, none through the server', async () => {
  const port = await refusedPort();
  assert.deepEqual(await measurePacketLoss('127.0.0.1', port, { count: 10, intervalMs: 1, waitMs: 200, family: 4 }), { sent: 10, received: 0, lossPercent: 100 });
  const server = await startSpeedtestServer({ host: '::1', port: 0 });
  try {
    assert.deepEqual(await measurePacketLoss('::1', server.udpPort!, { count: 10, intervalMs: 1, waitMs: 300, family: 6 }), { sent: 10, received: 10, lossPercent: 0 });
  } finally {
    await server.close();
  }
});

test('--interface binds the interface\'s address; an unknown interface is one line', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false });
  try {
    const r = await runSpeedtest(request(`http://127.0.0.1:${server.address.port}/`, { interface: 'lo', family: 4, download: false, upload: false }));
    assert.equal(r.status, 'complete', r.error ?? '');
    assert.equal(r.path.interface, 'lo');
    assert.equal(r.path.localAddress, '127.0.0.1');
    const bad = await runSpeedtest(request(`http://127.0.0.1:${server.address.port}/`, { interface: 'nosuchif0' }));
    assert.equal(bad.status, 'failed');
    assert.equal(bad.error, "no interface named nosuchif0: see 'ip link' for the names");
    assert.ok(networkInterfaces().lo);
  } finally {
    await server.close();
  }
});

test('CLI: speedtest --json prints one version-1 document; the text output names every figure', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0 });
  try {
    const url = `http://127.0.0.1:${server.address.port}/`;
    const json = await runCli(['speedtest', url, '--json', '--max-time', '0.5s', '--streams', '2', '--pings', '3', '--max-request-size', '4M']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as SpeedtestResult;
    assert.equal(doc.version, 1);
    assert.equal(doc.status, 'complete');
    assert.equal(doc.download!.streams, 2);
    assert.equal(json.stderr, '', 'no progress lines with --json');
    const text = await runCli(['speedtest', url, '--max-time', '0.5s', '--no-upload']);
    assert.equal(text.code, 0, text.stderr);
    for (const label of ['Server', 'Path', 'Idle latency', 'Download', 'latency under load', 'Upload', 'Packet loss', 'Data used', 'Time (UTC)']) {
      assert.ok(text.stdout.includes(label), `${label} in\n${text.stdout}`);
    }
    assert.match(text.stdout, /Upload\s+not measured/);
    // Not a terminal: plain progress lines, one per phase.
    assert.deepEqual(text.stderr.trim().split('\n'), ['choosing the server', `idle latency (127.0.0.1:${server.address.port})`, 'download', 'packet loss (UDP probes)']);
  } finally {
    await server.close();
  }
});

test('a byte cap stops the test near it (checked every tick) and says so; a cap hit during the warm-up is a partial result', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false });
  try {
    const url = `http://127.0.0.1:${server.address.port}/`;
    // Long enough that only the cap can end it; 16 MiB requests at most.
    const method = { ...QUICK_METHOD, warmupMinMs: 100, warmupMaxMs: 100, minMeasureMs: 60_000, maxMeasureMs: 60_000, maxRequestBytes: 16 << 20 };
    const r = await runSpeedtest(request(url, { method, maxBytes: 600e6 }));
    assert.equal(r.status, 'complete', r.error ?? '');
    assert.equal(r.download!.stoppedBy, 'byte-cap');
    assert.equal(r.upload!.stoppedBy, 'byte-cap');
    // Overshoot: at most a tick of traffic plus the uploads in flight (2 streams x 16 MiB).
    assert.ok(r.bytesUsed.total < 600e6 + 150e6, `used ${r.bytesUsed.total}`);
    const tiny = await runSpeedtest(request(url, { method: { ...method, warmupMinMs: 60_000, warmupMaxMs: 60_000 }, maxBytes: 5e6 }));
    assert.equal(tiny.status, 'partial');
    assert.equal(tiny.error, 'the download reached the byte cap (5 MB per test) before its warm-up ended: nothing was counted; raise the cap');
  } finally {
    await server.close();
  }
});

test('--ipv4 with a host name: the connections use IPv4 and the result says so', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false });
  try {
    const r = await runSpeedtest(request(`http://localhost:${server.address.port}/`, { family: 4, download: false, upload: false }));
    assert.equal(r.status, 'complete', r.error ?? '');
    assert.equal(r.path.family, 4);
    assert.equal(r.server.address, '127.0.0.1');
  } finally {
    await server.close();
  }
});

test('progress on a terminal: one line redrawn in place per update; plain lines otherwise', () => {
  const written: string[] = [];
  const out = { write: (s: string) => written.push(s) } as unknown as NodeJS.WritableStream;
  const tty = progressPrinter(out, true);
  tty.onEvent({ kind: 'phase', phase: 'download' });
  tty.onEvent({ kind: 'transfer', progress: { direction: 'download', state: 'warmup', elapsedMs: 300, bitsPerSecond: 94.2e6 } });
  tty.onEvent({ kind: 'transfer', progress: { direction: 'download', state: 'measuring', elapsedMs: 1500, bitsPerSecond: 95e6 } });
  tty.done();
  assert.deepEqual(written, ['download…', '\r\x1b[2K', 'download warm-up 94.2 Mbit/s 0.3 s', '\r\x1b[2K', 'download measuring 95.0 Mbit/s 1.5 s', '\r\x1b[2K']);
  written.length = 0;
  const plain = progressPrinter(out, false);
  plain.onEvent({ kind: 'phase', phase: 'upload' });
  plain.onEvent({ kind: 'transfer', progress: { direction: 'upload', state: 'measuring', elapsedMs: 1500, bitsPerSecond: 95e6 } });
  plain.done();
  assert.deepEqual(written, ['upload\n']);
});
