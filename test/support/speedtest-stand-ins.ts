// Servers the speed test tests talk to: small HTTP servers with one misbehaviour each
// (stalls, short bodies, redirect loops, errors, slow pings) on loopback, a free port
// that refuses connections, and method settings short enough for a test.

import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { MethodSettings } from '../../src/speedtest/measurement.js';

export interface StandIn {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Method settings for tests: tenths of a second instead of seconds. */
export const QUICK_METHOD: Partial<MethodSettings> = {
  streams: 2,
  warmupMinMs: 100,
  warmupMaxMs: 300,
  minMeasureMs: 300,
  maxMeasureMs: 600,
  windowMs: 200,
  stableWindows: 3,
  tickMs: 50,
  requestTargetMs: 100,
  initialRequestBytes: 1 << 20,
  initialUploadBytes: 1 << 20,
  maxRequestBytes: 4 << 20,
};

export async function startStandIn(handler: http.RequestListener, options: { host?: string; tls?: { key: string; cert: string } } = {}): Promise<StandIn> {
  const host = options.host ?? '127.0.0.1';
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${shown}:${port}/`,
    port,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** LibreSpeed's ping and address paths, answered right away (or after `pingDelayMs`). */
export function answerLibrespeedBasics(req: http.IncomingMessage, res: http.ServerResponse, pingDelayMs = 0): boolean {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path.endsWith('/empty.php') && req.method === 'GET') {
    setTimeout(() => res.end(), pingDelayMs);
    return true;
  }
  if (path.endsWith('/getIP.php')) {
    res.end(JSON.stringify({ processedString: '198.18.0.1 - stand-in', rawIspInfo: '' }));
    return true;
  }
  return false;
}
