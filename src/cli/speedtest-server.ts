// `netmeter speedtest-server --listen ADDR:PORT`: a test point speaking LibreSpeed's and
// Cloudflare's protocols over HTTP, with UDP loss probes on the same port, within limits
// (docs/speedtest.md). Logs one line per test on stdout; stops on SIGINT or SIGTERM.

import { parseArgs } from 'node:util';
import { startSpeedtestServer } from '../speedtest/server.js';
import { DEFAULT_LIMITS, type ServerLimits } from '../speedtest/server-limits.js';
import { parseDuration, parsePositiveInteger } from './options.js';
import type { CommandIo } from './replay.js';
import { parseSize } from './speedtest.js';
import { UsageError } from './usage-error.js';
import { SpeedtestError } from '../speedtest/errors.js';

export const SPEEDTEST_SERVER_HELP = `Usage: netmeter speedtest-server --listen ADDR:PORT [options]

Serves speed tests: LibreSpeed's backend (garbage.php, empty.php, getIP.php) and
Cloudflare-style paths (__down?bytes=N, __up), and answers netmeter's UDP loss probes on
the same port number. Put it behind TLS (a reverse proxy) for public use.

  --listen ADDR:PORT          where to listen, e.g. 0.0.0.0:8080 or [::]:8080
  --max-tests N               downloads and uploads running at once (default ${DEFAULT_LIMITS.maxConcurrentTransfers})
  --max-request-size SIZE     largest body per request (default ${DEFAULT_LIMITS.maxRequestBytes >> 20}M)
  --requests-per-minute N     per client address (default ${DEFAULT_LIMITS.requestsPerMinute})
  --max-connections N         open connections at once (default ${DEFAULT_LIMITS.maxConnections})
  --idle-timeout DURATION     close connections that move nothing this long (default ${DEFAULT_LIMITS.idleTimeoutMs / 1000}s)
  --no-udp                    do not answer UDP loss probes
`;

export async function runSpeedtestServer(argv: string[], io: CommandIo, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      listen: { type: 'string' },
      'max-tests': { type: 'string' },
      'max-request-size': { type: 'string' },
      'requests-per-minute': { type: 'string' },
      'max-connections': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'no-udp': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(SPEEDTEST_SERVER_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.listen === undefined) throw new UsageError('speedtest-server needs --listen ADDR:PORT (e.g. 0.0.0.0:8080)');
  const { host, port } = parseListen(values.listen);
  const limits: Partial<ServerLimits> = {};
  const tests = parsePositiveInteger('max-tests', values['max-tests']);
  if (tests !== undefined) limits.maxConcurrentTransfers = tests;
  if (values['max-request-size'] !== undefined) limits.maxRequestBytes = parseSize('max-request-size', values['max-request-size']);
  const perMinute = parsePositiveInteger('requests-per-minute', values['requests-per-minute']);
  if (perMinute !== undefined) limits.requestsPerMinute = perMinute;
  const connections = parsePositiveInteger('max-connections', values['max-connections']);
  if (connections !== undefined) limits.maxConnections = connections;
  const idle = parseDuration('idle-timeout', values['idle-timeout']);
  if (idle !== undefined) limits.idleTimeoutMs = idle * 1000;

  let server;
  try {
    server = await startSpeedtestServer({ host, port, limits, udp: !values['no-udp'], log: (line) => io.stdout.write(`${line}\n`) });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const hint = code === 'EADDRINUSE' ? 'another program uses that port' : code === 'EACCES' ? 'ports below 1024 need root' : code === 'EADDRNOTAVAIL' ? 'no interface has that address' : 'check --listen';
    throw new SpeedtestError(`cannot listen on ${values.listen} (${code}): ${hint}`);
  }
  const shown = server.address.family === 'IPv6' ? `[${server.address.address}]` : server.address.address;
  io.stdout.write(`listening on http://${shown}:${server.address.port}/${server.udpPort !== null ? ` (UDP probes on port ${server.udpPort})` : ''}\n`);
  await new Promise<void>((resolve) => {
    signals.once('SIGINT', resolve);
    signals.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

/** "ADDR:PORT", "[v6]:PORT" or ":PORT" (all addresses). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--listen: '${text}' is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080, :8080)`);
  return { host: match[1] ?? (match[2] === '' ? '::' : match[2]!), port };
}
