// HTTP(S) for the speed test on node's http/https: one keep-alive connection per stream,
// requests that no cache can answer, the path the user chose (family, local address),
// a stall timeout on every request, and a count of every byte through the sockets.
// Failures leave as SpeedtestErrors with one line each.

import http from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SpeedtestError, StallError, describeNetworkError } from './errors.js';
import type { RandomPayload } from './random-payload.js';
import { ResponseReader, type ResponseHead } from './response-reader.js';

export interface PathChoice {
  family?: 4 | 6;
  /** Local address to bind (from --interface). */
  localAddress?: string;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
}

export interface TransportTimeouts {
  /** A request that moves no byte for this long fails with a StallError. */
  stallMs: number;
}

export interface Connection {
  readonly id: number;
  agent(url: URL): http.Agent;
  /** The bare socket plain-http downloads use (see rawDownload), while it can be reused. */
  raw?: RawSocket | undefined;
  close(): void;
}

/** A socket read straight into one fixed buffer, with the current request's handlers. */
interface RawSocket {
  socket: Socket;
  onData?: ((buf: Buffer, n: number) => void) | undefined;
  onEnd?: (() => void) | undefined;
  onError?: ((error: Error) => void) | undefined;
}

/** Each bare socket reads into its own buffer this large (node's own reads are 64 KiB). */
const RAW_READ_BUFFER = 1 << 20;

export interface TextAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  url: URL;
  elapsedMs: number;
  remoteAddress: string | null;
  localAddress: string | null;
}

const MAX_REDIRECTS = 5;
const UPLOAD_CHUNK = 256 * 1024;

export class AbortedError extends Error {
  override name = 'AbortedError';
}

export class Transport {
  private readonly live = new Set<Socket>();
  private closedRead = 0;
  private closedWritten = 0;
  private nextConnection = 1;
  private readonly connections = new Set<Connection>();

  constructor(
    readonly path: PathChoice,
    readonly timeouts: TransportTimeouts,
    private readonly payload: RandomPayload,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Bytes through every socket so far: bodies, headers and TLS records. */
  bytesUsed(): { received: number; sent: number } {
    let received = this.closedRead;
    let sent = this.closedWritten;
    for (const socket of this.live) {
      received += socket.bytesRead;
      sent += socket.bytesWritten;
    }
    return { received, sent };
  }

  /** A connection of its own: one TCP (and TLS) session reused for its requests. */
  connect(): Connection {
    const agents = new Map<string, http.Agent>();
    const options = { keepAlive: true, maxSockets: 1, ...(this.path.ca ? { ca: this.path.ca } : {}) };
    const connection: Connection = {
      id: this.nextConnection++,
      agent: (url) => {
        let agent = agents.get(url.protocol);
        if (!agent) {
          agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
          agents.set(url.protocol, agent);
        }
        return agent;
      },
      close: () => {
        for (const agent of agents.values()) agent.destroy();
        connection.raw?.socket.destroy();
        connection.raw = undefined;
        this.connections.delete(connection);
      },
    };
    this.connections.add(connection);
    return connection;
  }

  /** Counts a socket's bytes in bytesUsed, also after it closed. */
  private track(socket: Socket): void {
    if (this.live.has(socket)) return;
    this.live.add(socket);
    socket.once('close', () => {
      this.live.delete(socket);
      this.closedRead += socket.bytesRead;
      this.closedWritten += socket.bytesWritten;
    });
  }

  closeAll(): void {
    for (const connection of [...this.connections]) connection.close();
  }

  /** A small GET (ping, address, probe); follows up to five redirects. */
  async fetchText(connection: Connection, url: URL, maxBytes = 64 * 1024): Promise<TextAnswer> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const answer = await this.getText(connection, current, maxBytes);
      const location = answer.headers.location;
      if (answer.status >= 300 && answer.status < 400 && location) {
        current = new URL(location, current);
        continue;
      }
      return answer;
    }
    throw new SpeedtestError(`more than ${MAX_REDIRECTS} redirects starting at ${url.href}: the server sends requests in a loop; check the URL`);
  }

  private getText(connection: Connection, url: URL, maxBytes: number): Promise<TextAnswer> {
    return new Promise((resolve, reject) => {
      const started = this.now();
      const req = this.request(connection, url, 'GET', {}, reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new SpeedtestError(`${url.href} answered with more than ${maxBytes} bytes where a short answer was expected: is this a speed test server?`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const socket = req.socket;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            url,
            elapsedMs: this.now() - started,
            remoteAddress: socket?.remoteAddress ?? null,
            localAddress: socket?.localAddress ?? null,
          });
        });
      });
      req.end();
    });
  }

  /**
   * Downloads `url`, expecting `expected` body bytes (fewer is a short body). onBytes is
   * called with each chunk's size as it arrives. Resolves when the body is complete;
   * rejects with AbortedError when `signal` fires.
   */
  download(connection: Connection, url: URL, expected: number, onBytes: (n: number) => void, signal: AbortSignal): Promise<number> {
    if (url.protocol === 'http:') return this.rawDownload(connection, url, expected, onBytes, signal);
    return new Promise((resolve, reject) => {
      let received = 0;
      const req = this.request(connection, url, 'GET', {}, reject, signal);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200 && status !== 206) {
          res.resume();
          req.destroy(httpError(status, 'GET', url, expected));
          return;
        }
        // A server that ignores the size asked for would upset request sizing and data use.
        const declared = res.headers['content-length'];
        if (declared !== undefined && Number(declared) !== expected) {
          res.resume();
          req.destroy(new SpeedtestError(`${url.host} sends ${declared} bytes where ${expected} were asked for: it does not honour the download size`));
          return;
        }
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          onBytes(chunk.length);
        });
        res.on('end', () => {
          if (!res.complete) return; // 'error' or 'aborted' follows
          if (received < expected) {
            reject(new SpeedtestError(`${url.host} sent ${received} of the ${expected} bytes asked for (short body): the server cut the download short`));
          } else resolve(received);
        });
        res.on('aborted', () => req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
      });
      req.end();
    });
  }

  /**
   * The download on a bare socket: the request written by hand, the response read into a
   * fixed buffer and counted by ResponseReader, the socket kept for the stream's next
   * request. Same checks and errors as the node http path above.
   */
  private async rawDownload(connection: Connection, url: URL, expected: number, onBytes: (n: number) => void, signal: AbortSignal): Promise<number> {
    const check = (head: ResponseHead) => {
      if (head.status !== 200 && head.status !== 206) throw httpError(head.status, 'GET', url, expected);
      const declared = head.headers['content-length'];
      if (declared !== undefined && Number(declared) !== expected) {
        throw new SpeedtestError(`${url.host} sends ${declared} bytes where ${expected} were asked for: it does not honour the download size`);
      }
    };
    const exchange = await this.rawGet(connection, url, onBytes, check, signal);
    if (exchange.bodyBytes < expected) throw new SpeedtestError(`${url.host} sent ${exchange.bodyBytes} of the ${expected} bytes asked for (short body): the server cut the download short`);
    return exchange.bodyBytes;
  }

  /**
   * A ping: a small GET whose round trip is timed from the request's write to the first
   * byte of the answer, as a browser's Resource Timing does (responseStart − requestStart),
   * so building the request and parsing the answer are not counted. On plain http it goes
   * over the connection's bare socket (node's HTTP client added 0.6 ms per round trip on
   * the benchmark machine, docs/speedtest.md); https, and answers that redirect, go through
   * fetchText, timed whole.
   */
  async ping(connection: Connection, url: URL): Promise<TextAnswer> {
    if (url.protocol !== 'http:') return this.fetchText(connection, url);
    const exchange = await this.rawGet(connection, url, () => {}, () => {});
    const head = exchange.head;
    if (head.status >= 300 && head.status < 400 && head.headers.location) return this.fetchText(connection, url);
    return { status: head.status, headers: head.headers, body: '', url, elapsedMs: exchange.firstByteMs, remoteAddress: exchange.remoteAddress, localAddress: exchange.localAddress };
  }

  /**
   * A GET on the connection's bare socket (opened on first use, kept while reusable): the
   * request written by hand, the response read into one fixed buffer and counted by
   * ResponseReader (`check` may refuse its head by throwing). Resolves once the response
   * is complete.
   */
  private rawGet(
    connection: Connection,
    url: URL,
    onBytes: (n: number) => void,
    check: (head: ResponseHead) => void,
    signal?: AbortSignal,
  ): Promise<{ head: ResponseHead; bodyBytes: number; firstByteMs: number; remoteAddress: string | null; localAddress: string | null }> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      target.searchParams.set('r', randomBytes(6).toString('hex'));
      const raw = connection.raw ?? this.openRaw(connection, target);
      let settled = false;
      let sentAt = 0;
      let firstByteAt: number | undefined;
      const reader = new ResponseReader(onBytes, check);
      const done = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        signal?.removeEventListener('abort', abort);
        raw.onData = raw.onEnd = raw.onError = undefined;
        if (error || !reader.reusable) {
          raw.socket.destroy();
          if (connection.raw === raw) connection.raw = undefined;
        }
        if (error) reject(error);
        else if (!reader.head) reject(describeNetworkError(Object.assign(new Error('closed'), { code: 'ECONNRESET' }), url));
        else {
          const socket = raw.socket;
          resolve({ head: reader.head, bodyBytes: reader.bodyBytes, firstByteMs: (firstByteAt ?? this.now()) - sentAt, remoteAddress: socket.remoteAddress ?? null, localAddress: socket.localAddress ?? null });
        }
      };
      raw.onData = (buf, n) => {
        firstByteAt ??= this.now();
        try {
          reader.push(buf, 0, n);
        } catch (error) {
          done(error instanceof SpeedtestError ? error : new SpeedtestError(`${url.host} sent a malformed response (${(error as Error).message})`));
          return;
        }
        if (reader.done) done();
      };
      raw.onEnd = () => (reader.endsWithClose ? done() : done(describeNetworkError(Object.assign(new Error('closed'), { code: 'ECONNRESET' }), url)));
      raw.onError = (error) => done(describeNetworkError(error, url));
      const abort = () => done(new AbortedError('aborted'));
      if (signal?.aborted) return done(new AbortedError('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      const timer = watchForStall(() => raw.socket.bytesRead + raw.socket.bytesWritten, this.timeouts.stallMs, this.now, () =>
        done(new StallError(`${url.host} moved no data for ${(this.timeouts.stallMs / 1000).toFixed(1)} s during GET ${url.pathname}: the server stalled`)),
      );
      const host = target.port ? `${target.hostname}:${target.port}` : target.hostname;
      const request =
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: netmeter-speedtest/1\r\n` +
        'Cache-Control: no-store, no-cache, max-age=0\r\nPragma: no-cache\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n';
      // A socket still connecting queues the write: the clock starts when it is handed to the kernel.
      if (raw.socket.connecting) raw.socket.once('connect', () => (sentAt = this.now()));
      else sentAt = this.now();
      raw.socket.write(request);
    });
  }

  private openRaw(connection: Connection, url: URL): RawSocket {
    const buffer = Buffer.allocUnsafe(RAW_READ_BUFFER);
    const raw: RawSocket = {} as RawSocket;
    raw.socket = net.connect({
      noDelay: true,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 80),
      ...(this.path.family ? { family: this.path.family } : {}),
      ...(this.path.localAddress ? { localAddress: this.path.localAddress } : {}),
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array) => {
          raw.onData?.(buf as Buffer, n);
          return true;
        },
      },
    });
    raw.socket.on('end', () => raw.onEnd?.());
    raw.socket.on('error', (error) => raw.onError?.(error));
    raw.socket.on('close', () => {
      if (connection.raw === raw) connection.raw = undefined;
      raw.onEnd?.();
    });
    this.track(raw.socket);
    connection.raw = raw;
    return raw;
  }

  /**
   * POSTs `size` random bytes. onWritten(n) reports bytes handed to the kernel as they go.
   * Resolves only when the server answered 2xx after the whole body: that answer is what
   * makes the bytes count. A server that answers before the body is in has not received it.
   */
  upload(connection: Connection, url: URL, size: number, onWritten: (n: number) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let written = 0;
      let bodyDone = false;
      const req = this.request(connection, url, 'POST', { 'content-type': 'application/octet-stream', 'content-length': String(size) }, reject, signal);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        if (status < 200 || status >= 300) {
          req.destroy(httpError(status, 'POST', url, size));
          return;
        }
        if (!bodyDone) {
          req.destroy(new SpeedtestError(`${url.host} answered the upload before receiving its body: it does not read uploads, so none can be counted; use another server`));
          return;
        }
        res.on('end', () => resolve());
      });
      const offset = Math.floor(Math.random() * 1e9);
      const pump = () => {
        while (written < size && !req.destroyed) {
          const length = Math.min(UPLOAD_CHUNK, size - written);
          const chunk = this.payload.slice(offset + written, length);
          written += length;
          const more = req.write(chunk, (error) => {
            if (!error) onWritten(length);
          });
          if (!more) {
            req.once('drain', pump);
            return;
          }
        }
        if (written >= size && !bodyDone) {
          bodyDone = true;
          req.end();
        }
      };
      pump();
    });
  }

  /**
   * A request with cache-busting query and headers, the chosen path, and a stall timer that
   * any byte in either direction resets. Errors go to `fail` as SpeedtestErrors.
   */
  private request(
    connection: Connection,
    url: URL,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    fail: (error: Error) => void,
    signal?: AbortSignal,
  ): http.ClientRequest {
    const target = new URL(url);
    target.searchParams.set('r', randomBytes(6).toString('hex'));
    const module = target.protocol === 'https:' ? https : http;
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new SpeedtestError(`${url.href}: only http:// and https:// servers are supported`);
    const req = module.request(target, {
      method,
      agent: connection.agent(target),
      headers: {
        'cache-control': 'no-store, no-cache, max-age=0',
        pragma: 'no-cache',
        'accept-encoding': 'identity',
        'user-agent': 'netmeter-speedtest/1',
        ...headers,
      },
      ...(this.path.family ? { family: this.path.family } : {}),
      ...(this.path.localAddress ? { localAddress: this.path.localAddress } : {}),
      ...(this.path.ca ? { ca: this.path.ca } : {}),
    });
    let settled = false;
    const finish = (error: Error) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      fail(error);
    };
    const timer = watchForStall(() => (req.socket ? req.socket.bytesRead + req.socket.bytesWritten : 0), this.timeouts.stallMs, this.now, () =>
      req.destroy(new StallError(`${url.host} moved no data for ${(this.timeouts.stallMs / 1000).toFixed(1)} s during ${method} ${url.pathname}: the server stalled`)),
    );
    req.on('socket', (socket) => this.track(socket));
    req.on('error', (error) => finish(describeNetworkError(error, url)));
    req.on('close', () => {
      clearInterval(timer);
      settled = true;
    });
    if (signal) {
      const abort = () => {
        finish(new AbortedError('aborted'));
        // A reset, not a close: the kernel would go on sending what an upload left in the send buffer.
        req.socket?.resetAndDestroy();
        req.destroy();
      };
      if (signal.aborted) queueMicrotask(abort);
      else {
        signal.addEventListener('abort', abort, { once: true });
        req.on('close', () => signal.removeEventListener('abort', abort));
      }
    }
    return req;
  }
}

/**
 * Calls onStall once `moved()` (a socket's byte count) has not changed for stallMs, checked
 * four times per stallMs, so a stall is told between stallMs and 1.25 × stallMs after the
 * last byte. The caller clears the returned interval when the request ends.
 */
function watchForStall(moved: () => number, stallMs: number, now: () => number, onStall: () => void): NodeJS.Timeout {
  let last = moved();
  let since = now();
  const timer = setInterval(() => {
    const current = moved();
    if (current !== last) {
      last = current;
      since = now();
    } else if (now() - since >= stallMs) {
      clearInterval(timer);
      onStall();
    }
  }, Math.max(1, stallMs / 4));
  timer.unref?.();
  return timer;
}

function httpError(status: number, method: string, url: URL, bytes: number): SpeedtestError {
  const what = `${method} ${url.pathname}`;
  if (status === 413) return new SpeedtestError(`${url.host} refused a ${bytes}-byte request (HTTP 413 Payload Too Large, ${what}): its size limit is lower; try --max-request-size`);
  if (status === 429 || status === 503) return new SpeedtestError(`${url.host} is busy or limits this address (HTTP ${status}, ${what}): try again later`);
  if (status >= 300 && status < 400) return new SpeedtestError(`${url.host} redirected ${what} (HTTP ${status}): give the URL it redirects to`);
  if (status === 404) return new SpeedtestError(`${url.host} has no ${url.pathname} (HTTP 404): is the URL the server's base, and the protocol right?`);
  return new SpeedtestError(`${url.host} answered HTTP ${status} to ${what}`);
}
