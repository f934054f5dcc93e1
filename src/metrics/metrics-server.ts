// The daemon's /metrics endpoint: an HTTP (or, configured, HTTPS) server with optional
// basic auth, serving one prom-client registry in the Prometheus text format, with the
// daemon's own CPU and memory (prom-client's default metrics) beside netmeter's. Other
// features add their collectors to `registry` (see docs/fleet/README.md, "Adding metrics").

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { collectDefaultMetrics } from 'prom-client';
import { ExpositionRegistry } from './exposition-text.js';
import { NetmeterError } from '../errors.js';
import { ConfigError } from '../history/config.js';
import { formatListenAddress, type ListenAddress, type MetricsConfig } from './metrics-config.js';

/** The endpoint could not be served (port taken, address not here, ...). */
export class MetricsServeError extends NetmeterError {
  override name = 'MetricsServeError';
}

/** Everything the server needs, with the files of the config already read (so a bad one fails before any capture starts). */
export interface MetricsServerPlan {
  listen: ListenAddress;
  basicAuth?: { user: string; password: string };
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * Reads the files the `metrics` section names; `where` names the config file in errors.
 * One line per problem, saying what to do.
 */
export function planMetricsServer(listen: ListenAddress, config: MetricsConfig, where: string): MetricsServerPlan {
  const plan: MetricsServerPlan = { listen };
  const read = (key: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ConfigError(`${where}: metrics: cannot read ${key} ${file} (${code})`);
    }
  };
  if (config.basicAuth) {
    const password = read('basicAuth.passwordFile', config.basicAuth.passwordFile).toString('utf8').split('\n')[0]!.replace(/\r$/, '');
    if (password === '') throw new ConfigError(`${where}: metrics: basicAuth.passwordFile ${config.basicAuth.passwordFile} is empty; put the password on its first line`);
    plan.basicAuth = { user: config.basicAuth.user, password };
  }
  if (config.tls) {
    plan.tls = { cert: read('tls.certFile', config.tls.certFile), key: read('tls.keyFile', config.tls.keyFile) };
    try {
      createSecureContext(plan.tls);
    } catch (error) {
      throw new ConfigError(`${where}: metrics: ${tlsProblem(error)}`);
    }
  }
  return plan;
}

export class MetricsServer {
  /** netmeter's metrics and the process's: add collectors with `registers: [server.registry]`. */
  readonly registry = new ExpositionRegistry();
  /** Called before each scrape's collectors run (they read the session once per scrape). */
  private readonly scrapeStarts: Array<() => void> = [];
  private server: Server | undefined;

  constructor(private readonly plan: MetricsServerPlan) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which `promtool check metrics` rightly refuses; the
    // process's CPU, memory, file descriptors, heap and event loop stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  /** Runs `begin` before each scrape's collectors (a collector set that reads its source once per scrape). */
  onScrape(begin: () => void): void {
    this.scrapeStarts.push(begin);
  }

  /** The address served, as written in the log ("127.0.0.1:9417", "https://[::1]:9417"). */
  get address(): string {
    const bound = this.server?.address();
    const port = bound && typeof bound === 'object' ? bound.port : this.plan.listen.port;
    return `${this.plan.tls ? 'https://' : ''}${formatListenAddress({ host: this.plan.listen.host, port })}`;
  }

  /** Starts listening; a port taken or an address not on this host is a MetricsServeError. */
  async listen(): Promise<void> {
    const handler = (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response);
    let server: Server;
    if (this.plan.tls) {
      try {
        server = createHttpsServer({ cert: this.plan.tls.cert, key: this.plan.tls.key }, handler);
      } catch (error) {
        throw new ConfigError(`metrics: ${tlsProblem(error)}`);
      }
    } else {
      server = createHttpServer(handler);
    }
    const { host, port } = this.plan.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new MetricsServeError(listenFailure(formatListenAddress(this.plan.listen), error))));
      server.listen({ host, port }, () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (this.plan.basicAuth && !authorized(request, this.plan.basicAuth)) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="netmeter"', 'Content-Type': 'text/plain' }).end('Unauthorized\n');
      return;
    }
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method not allowed\n');
      return;
    }
    if (path === '/') {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<html><head><title>netmeter</title></head><body><h1>netmeter</h1><p><a href="/metrics">Metrics</a></p></body></html>\n');
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: the metrics are at /metrics\n');
      return;
    }
    try {
      for (const begin of this.scrapeStarts) begin();
      const chunks = await this.registry.exposition();
      const length = chunks.reduce((sum, c) => sum + c.length, 0);
      response.writeHead(200, { 'Content-Type': this.registry.contentType, 'Content-Length': length });
      if (request.method === 'HEAD') {
        response.end();
        return;
      }
      // Written as they are (one writev): 3.7 MB at 10,000 subscribers, not copied into one buffer first.
      response.cork();
      for (const chunk of chunks) response.write(chunk);
      response.end();
    } catch (error) {
      response.writeHead(500, { 'Content-Type': 'text/plain' }).end(`netmeter could not collect its metrics: ${oneLine(error)}\n`);
    }
  }
}

function authorized(request: IncomingMessage, auth: { user: string; password: string }): boolean {
  const header = request.headers.authorization ?? '';
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!, 'base64').toString('utf8');
  // Compared as digests of equal length, in constant time.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(`${auth.user}:${auth.password}`));
}

function listenFailure(address: string, error: NodeJS.ErrnoException): string {
  const start = `cannot serve metrics on ${address}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${start}: the port is in use (another netmeter daemon, or another exporter?); choose another port with --metrics ADDRESS:PORT`;
    case 'EADDRNOTAVAIL':
      return `${start}: no interface of this host has that address; use 127.0.0.1, 0.0.0.0 (every interface) or one of this host's addresses`;
    case 'EACCES':
      return `${start}: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE); choose a port above 1023`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${start}: the host name does not resolve; give an IP address`;
    default:
      return `${start}: ${oneLine(error)}`;
  }
}

function tlsProblem(error: unknown): string {
  return `the TLS certificate or key cannot be used (${oneLine(error)}); give a PEM certificate in tls.certFile and its PEM private key in tls.keyFile`;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}
