// Pings over plain http: timed from the request's write to the answer's first byte on an
// injected clock (the stand-in server moves the clock when the request reaches it), the
// connection kept for the next ping, headers and addresses passed on, redirects followed
// through fetchText.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RandomPayload } from '../src/speedtest/random-payload.js';
import { Transport } from '../src/speedtest/transport.js';

test('a ping is timed from its write to the first byte of the answer, on one kept-alive connection', async (t) => {
  let clock = 1000;
  const sockets = new Set<unknown>();
  const server = http.createServer((req, res) => {
    sockets.add(req.socket);
    if (req.url?.startsWith('/moved')) {
      res.writeHead(302, { location: '/empty.php' });
      return res.end();
    }
    clock += 25; // the network and the server's turn
    res.writeHead(200, { 'content-length': '4', 'netmeter-udp-port': '9' });
    res.end('pong');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const transport = new Transport({}, { stallMs: 10_000 }, new RandomPayload(), () => clock);
  const connection = transport.connect();
  t.after(() => transport.closeAll());

  const first = await transport.ping(connection, new URL(`http://127.0.0.1:${port}/empty.php`));
  assert.equal(first.status, 200);
  assert.equal(first.headers['netmeter-udp-port'], '9');
  assert.equal(first.remoteAddress, '127.0.0.1');
  assert.equal(first.elapsedMs, 25);
  const second = await transport.ping(connection, new URL(`http://127.0.0.1:${port}/empty.php`));
  assert.equal(second.elapsedMs, 25);
  assert.equal(sockets.size, 1, 'both pings on one connection');

  const redirected = await transport.ping(connection, new URL(`http://127.0.0.1:${port}/moved`));
  assert.equal(redirected.status, 200, 'the redirect was followed');
  assert.equal(redirected.url.pathname, '/empty.php');
});
