// netmeter's speed test server: LibreSpeed's backend paths (garbage.php, empty.php,
// getIP.php, under any prefix) and Cloudflare's (__down, __up, cdn-cgi/trace) on one
// HTTP server, plus a UDP echo for loss probes on the same port number. Download bodies
// are slices of one random pool written as the client reads them, uploads are counted and
// dropped: memory does not grow with sizes or clients. Limits are in server-limits.ts;
// one line is logged per test (a client address's requests until it is quiet for 5 s).

import http from 'node:http';
import dgram from 'node:dgram';
import type { AddressInfo, Socket } from 'node:net';
import { MIB } from './endpoints.js';
import { RandomPayload } from './random-payload.js';
import { DEFAULT_LIMITS, WindowCounter, formatSessionLine, type ClientSession, type ServerLimits } from './server-limits.js';
import { isProbe } from './udp-probe.js';

export interface SpeedtestServerOptions {
  host: string;
  port: number;
  limits?: Partial<ServerLimits>;
  /** Answer UDP probes on the same port number (default true). */
  udp?: boolean;
  log?: (line: string) => void;
  now?: () => number;
  /** A test ends when its address was quiet this long. */
  sessionIdleMs?: number;
}

export interface RunningServer {
  address: AddressInfo;
  udpPort: number | null;
  /** Sessions still open, for tests and for the log at shutdown. */
  sessions(): number;
  close(): Promise<void>;
}

const WRITE_CHUNK = 256 * 1024;
const NO_CACHE = {
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  pragma: 'no-cache',
  'access-control-allow-origin': '*',
};

export async function startSpeedtestServer(options: SpeedtestServerOptions): Promise<RunningServer> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const now = options.now ?? (() => Date.now());
  const log = options.log ?? (() => {});
  const idleMs = options.sessionIdleMs ?? 5000;
  const payload = new RandomPayload();
  const perMinute = new WindowCounter(60_000, limits.requestsPerMinute, limits.maxTrackedAddresses, now);
  const probes = new WindowCounter(1000, limits.probesPerSecond, limits.maxTrackedAddresses, now);
  const sessions = new Map<string, ClientSession>();
  let transfers = 0;
  /** One of the maxConcurrentTransfers slots until the response closes (or release() is called); undefined when none is free. */
  const takeTransferSlot = (res: http.ServerResponse): (() => void) | undefined => {
    if (transfers >= limits.maxConcurrentTransfers) return undefined;
    transfers++;
    let done = false;
    const release = () => {
      if (!done) transfers--;
      done = true;
    };
    res.on('close', release);
    return release;
  };
  let udpPort: number | null = null;

  const session = (address: string): ClientSession => {
    let s = sessions.get(address);
    if (!s) {
      if (sessions.size >= limits.maxTrackedAddresses) endSession(sessions.values().next().value!);
      s = { address, protocol: new Set(), firstMs: now(), lastMs: now(), requests: 0, downloadBytes: 0, uploadBytes: 0, refused: 0 };
      sessions.set(address, s);
    }
    s.lastMs = now();
    return s;
  };
  const endSession = (s: ClientSession) => {
    sessions.delete(s.address);
    log(formatSessionLine(s, new Date(Date.now() - (now() - s.firstMs))));
  };
  const sweep = setInterval(() => {
    const t = now();
    for (const s of [...sessions.values()]) if (t - s.lastMs >= idleMs) endSession(s);
  }, Math.min(1000, idleMs));
  sweep.unref();

  const server = http.createServer((req, res) => {
    const address = clientAddress(req.socket);
    const s = session(address);
    s.requests++;
    const refuse = (status: number, message: string, extra: Record<string, string> = {}) => {
      s.refused++;
      res.writeHead(status, { ...NO_CACHE, 'content-type': 'text/plain', connection: 'close', ...extra });
      res.end(`${message}\n`);
      req.resume();
    };
    if (!perMinute.allow(address)) return refuse(429, 'too many requests from this address: wait a minute', { 'retry-after': '60' });

    const url = new URL(req.url ?? '/', 'http://server');
    const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
    const base = { ...NO_CACHE, ...(udpPort !== null ? { 'netmeter-udp-port': String(udpPort) } : {}) };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...base, 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': '*' });
      return res.end();
    }

    const isDownload = (name === 'garbage.php' || name === '__down') && req.method === 'GET';
    const isUpload = (name === 'empty.php' || name === '__up') && req.method === 'POST';
    if (isDownload || isUpload) s.protocol.add(name === 'garbage.php' || name === 'empty.php' ? 'librespeed' : 'cloudflare');

    if (isDownload) {
      const bytes = name === 'garbage.php' ? parseCount(url.searchParams.get('ckSize'), 4) * MIB : parseCount(url.searchParams.get('bytes'), 0);
      if (!Number.isFinite(bytes) || bytes < 0) return refuse(400, 'the size must be a whole number');
      if (bytes > limits.maxRequestBytes) return refuse(413, `at most ${limits.maxRequestBytes} bytes per request`);
      if (!takeTransferSlot(res)) return refuse(503, 'busy: too many tests at once', { 'retry-after': '5' });
      res.writeHead(200, { ...base, 'content-type': 'application/octet-stream', 'content-length': String(bytes), 'cf-meta-ip': address });
      sendBody(res, payload, bytes, (n) => (s.downloadBytes += n), () => (s.lastMs = now()));
      return;
    }
    if (isUpload) {
      const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
      if (declared !== undefined && declared > limits.maxRequestBytes) return refuse(413, `at most ${limits.maxRequestBytes} bytes per request`);
      const release = takeTransferSlot(res);
      if (!release) return refuse(503, 'busy: too many tests at once', { 'retry-after': '5' });
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        s.uploadBytes += chunk.length;
        s.lastMs = now();
        if (received > limits.maxRequestBytes && !res.headersSent) {
          s.refused++;
          res.writeHead(413, { ...base, connection: 'close' });
          res.end();
          req.destroy();
        }
      });
      req.on('end', () => {
        release();
        if (res.headersSent) return;
        res.writeHead(200, { ...base, 'content-type': 'text/plain', 'content-length': '0' });
        res.end();
      });
      return;
    }
    if (name === 'empty.php' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { ...base, 'content-length': '0' });
      return res.end();
    }
    if (name === 'getIP.php' && req.method === 'GET') {
      const body = JSON.stringify({ processedString: address, rawIspInfo: '' });
      res.writeHead(200, { ...base, 'content-type': 'application/json' });
      return res.end(body);
    }
    if (name === 'trace' && url.pathname.endsWith('/cdn-cgi/trace')) {
      res.writeHead(200, { ...base, 'content-type': 'text/plain' });
      return res.end(`ip=${address}\nh=netmeter\n`);
    }
    req.resume();
    res.writeHead(404, { ...base, 'content-type': 'text/plain' });
    res.end('not a speed test path: garbage.php, empty.php, getIP.php, __down, __up\n');
  });
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = Math.min(10_000, limits.idleTimeoutMs);
  server.requestTimeout = 0; // long uploads are fine while they move; the idle timeout ends stuck ones
  server.keepAliveTimeout = 5000;
  server.setTimeout(limits.idleTimeoutMs, (socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  let udp: dgram.Socket | undefined;
  if (options.udp !== false) {
    udp = dgram.createSocket({ type: address.family === 'IPv6' ? 'udp6' : 'udp4', ...(address.family === 'IPv6' ? { ipv6Only: true } : {}) });
    udp.on('message', (packet, from) => {
      if (!isProbe(packet) || !probes.allow(`udp ${from.address}`)) return;
      udp!.send(packet, from.port, from.address);
    });
    udp.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      udp!.once('error', reject);
      udp!.bind(address.port, options.host, () => {
        udp!.off('error', reject);
        resolve();
      });
    });
    udpPort = udp.address().port;
  }

  return {
    address,
    udpPort,
    sessions: () => sessions.size,
    close: async () => {
      clearInterval(sweep);
      udp?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of [...sessions.values()]) endSession(s);
    },
  };
}

/** Writes `bytes` from the pool as fast as the client reads, never buffering more than a chunk. */
function sendBody(res: http.ServerResponse, payload: RandomPayload, bytes: number, onSent: (n: number) => void, onProgress: () => void): void {
  let sent = 0;
  const offset = Math.floor(Math.random() * 1e9);
  const pump = () => {
    while (sent < bytes && !res.destroyed) {
      const length = Math.min(WRITE_CHUNK, bytes - sent);
      const more = res.write(payload.slice(offset + sent, length));
      sent += length;
      onSent(length);
      onProgress();
      if (!more) {
        res.once('drain', pump);
        return;
      }
    }
    if (sent >= bytes) res.end();
  };
  pump();
}

/** A whole number from a query (missing: the fallback; anything else: NaN). */
function parseCount(text: string | null, fallback: number): number {
  if (text === null || text === '') return fallback;
  return /^\d{1,15}$/.test(text) ? Number(text) : NaN;
}

function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
