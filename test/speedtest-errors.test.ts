// What a speed test does with bad input: each failure ends in one line that says what
// happened, and the result is marked failed (nothing measured) or partial (a phase broke),
// never complete. The servers are stand-ins on loopback with one fault each.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSpeedtest, type SpeedtestRequest } from '../src/speedtest/run.js';
import { startSpeedtestServer } from '../src/speedtest/server.js';
import type { SpeedtestResult } from '../src/speedtest/result.js';
import { runCli, hasCommand } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';
import { QUICK_METHOD, answerLibrespeedBasics, refusedPort, startStandIn } from './support/speedtest-stand-ins.js';

const NO_DEFAULTS = { server: 'http://127.0.0.1:1/', serverList: 'http://127.0.0.1:1/list' };

function request(url: string, extra: Partial<SpeedtestRequest> = {}): SpeedtestRequest {
  return { server: { url, defaults: NO_DEFAULTS, selectionPings: 1 }, method: QUICK_METHOD, pingCount: 2, loadedPingIntervalMs: 50, stallMs: 2000, packetLoss: false, ...extra };
}

function assertOneLine(r: SpeedtestResult, status: 'failed' | 'partial', pattern: RegExp): void {
  assert.equal(r.status, status, `status of ${JSON.stringify(r.error)}`);
  assert.ok(r.error && !r.error.includes('\n'), 'one line');
  assert.match(r.error!, pattern);
}

test('connection refused: failed, says nothing listens', async () => {
  const port = await refusedPort();
  const r = await runSpeedtest(request(`http://127.0.0.1:${port}/`));
  assertOneLine(r, 'failed', new RegExp(`^connection refused by 127\\.0\\.0\\.1:${port}: is a speed test server listening there\\?$`));
  assert.equal(r.download, null);
});

test('unknown host (.invalid never resolves): failed', async () => {
  const r = await runSpeedtest(request('http://speedtest.nothing.invalid/'));
  assertOneLine(r, 'failed', /^unknown host speedtest\.nothing\.invalid: check the server URL$/);
});

test('TLS: a self-signed certificate fails with one line; the same server works once its certificate is trusted', { skip: !hasCommand('openssl') && 'openssl is not installed' }, async () => {
  const dir = tempDir('speed-tls');
  try {
    const key = join(dir.dir, 'key.pem');
    const cert = join(dir.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tls = { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
    const server = await startStandIn((req, res) => {
      if (!answerLibrespeedBasics(req, res)) res.writeHead(404).end();
    }, { tls });
    try {
      const r = await runSpeedtest(request(server.url, { download: false, upload: false }));
      assertOneLine(r, 'failed', /^TLS failure with 127\.0\.0\.1:\d+ \(DEPTH_ZERO_SELF_SIGNED_CERT\): the server's certificate is not trusted here/);
      const trusted = await runSpeedtest(request(server.url, { download: false, upload: false, ca: tls.cert }));
      assert.equal(trusted.status, 'complete', trusted.error ?? '');
      assert.equal(trusted.path.publicAddress, '198.18.0.1', 'getIP.php processedString before " - "');
    } finally {
      await server.close();
    }
  } finally {
    dir.remove();
  }
});

test('HTTP 413: an upload larger than the server takes is refused, the result is partial and counts no upload', async () => {
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false, limits: { maxRequestBytes: 2 << 20 } });
  try {
    const r = await runSpeedtest(request(`http://127.0.0.1:${server.address.port}/`, { download: false, method: { ...QUICK_METHOD, initialRequestBytes: 3 << 20, initialUploadBytes: 3 << 20 } }));
    assertOneLine(r, 'partial', /refused a 3145728-byte request \(HTTP 413 Payload Too Large, POST \/empty\.php\)/);
    assert.equal(r.upload!.countedBytes, 0, 'refused bytes are not counted');
    assert.equal(r.upload!.stoppedBy, 'error');
    // A download asking for more than the limit (ckSize=3) is refused the same way.
    const d = await runSpeedtest(request(`http://127.0.0.1:${server.address.port}/`, { upload: false, method: { ...QUICK_METHOD, initialRequestBytes: 3 << 20, initialUploadBytes: 3 << 20 } }));
    assertOneLine(d, 'partial', /HTTP 413 Payload Too Large, GET \/garbage\.php/);
  } finally {
    await server.close();
  }
});

test('HTTP 500 on the download: partial, names the status and the path', async () => {
  const server = await startStandIn((req, res) => {
    if (!answerLibrespeedBasics(req, res)) res.writeHead(500).end('boom');
  });
  try {
    const r = await runSpeedtest(request(server.url));
    assertOneLine(r, 'partial', /^127\.0\.0\.1:\d+ answered HTTP 500 to GET \/garbage\.php$/);
    assert.equal(r.download!.stoppedBy, 'error');
    assert.equal(r.upload, null, 'no upload after a broken download');
  } finally {
    await server.close();
  }
});

test('a server that stalls mid-download: partial after the (injected) stall timeout', async () => {
  const server = await startStandIn((req, res) => {
    if (answerLibrespeedBasics(req, res)) return;
    const asked = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ckSize')) * (1 << 20);
    res.writeHead(200, { 'content-length': String(asked) });
    res.write(Buffer.alloc(256 << 10)); // and then nothing
  });
  try {
    const r = await runSpeedtest(request(server.url, { stallMs: 300 }));
    assertOneLine(r, 'partial', /^127\.0\.0\.1:\d+ moved no data for 0\.3 s during GET \/garbage\.php: the server stalled$/);
    assert.equal(r.download!.stoppedBy, 'error');
  } finally {
    await server.close();
  }
});

test('a server that sends fewer bytes than asked: partial, "short body"', async () => {
  const server = await startStandIn((req, res) => {
    if (answerLibrespeedBasics(req, res)) return;
    res.writeHead(200); // chunked: the end is clean, only the count is short
    res.end(Buffer.alloc(1000));
  });
  try {
    const r = await runSpeedtest(request(server.url));
    assertOneLine(r, 'partial', /^127\.0\.0\.1:\d+ sent 1000 of the 1048576 bytes asked for \(short body\)/);
  } finally {
    await server.close();
  }
});

test('a redirect loop: failed after five hops', async () => {
  const server = await startStandIn((req, res) => {
    res.writeHead(302, { location: req.url ?? '/' }).end();
  });
  try {
    const r = await runSpeedtest(request(server.url));
    assertOneLine(r, 'failed', /^more than 5 redirects starting at http:\/\/127\.0\.0\.1:\d+\/empty\.php: the server sends requests in a loop; check the URL$/);
  } finally {
    await server.close();
  }
});

test('a server that answers uploads before reading them: nothing counted, partial', async () => {
  const server = await startStandIn((req, res) => {
    if (answerLibrespeedBasics(req, res)) return;
    res.end(); // POST empty.php answered at once, body unread
  });
  try {
    const r = await runSpeedtest(request(server.url, { download: false, method: { ...QUICK_METHOD, initialRequestBytes: 16 << 20, initialUploadBytes: 16 << 20 } }));
    assertOneLine(r, 'partial', /answered the upload before receiving its body/);
    assert.equal(r.upload!.countedBytes, 0);
  } finally {
    await server.close();
  }
});

test('CLI: a failure prints the document (status failed) and one error line, exit 1', async () => {
  const port = await refusedPort();
  const r = await runCli(['speedtest', `http://127.0.0.1:${port}/`, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `netmeter: speed test failed: connection refused by 127.0.0.1:${port}: is a speed test server listening there?\n`);
  const doc = JSON.parse(r.stdout) as SpeedtestResult;
  assert.equal(doc.status, 'failed');
  const usage = await runCli(['speedtest', '--ipv4', '--ipv6']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^netmeter: give --ipv4 or --ipv6, not both\n/);
});
