// `netmeter speedtest [URL]`: an active test of the connection against a LibreSpeed or
// Cloudflare-style server (or netmeter's own), printed as a few lines or one JSON document
// (docs/speedtest.md). Needs no privilege. A run that failed or broke off prints what it
// has and ends with one line and exit code 1.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SpeedtestError } from '../speedtest/errors.js';
import { formatResult, progressPrinter } from '../speedtest/format.js';
import type { Protocol, SpeedtestResult } from '../speedtest/result.js';
import { DEFAULT_METHOD } from '../speedtest/measurement.js';
import { runSpeedtest } from '../speedtest/run.js';
import { PUBLIC_DEFAULTS } from '../speedtest/server-choice.js';
import { parseDuration, parsePositiveInteger } from './options.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

export const SPEEDTEST_HELP = `Usage: netmeter speedtest [URL] [options]

Measures download and upload speed, idle latency, jitter and latency under load against a
speed test server. URL is a LibreSpeed backend's base (…/garbage.php lives under it), a
Cloudflare-style server (…/__down), or a netmeter speedtest-server (which also measures
packet loss). Without URL: ${PUBLIC_DEFAULTS.server}, and if it cannot be
reached the nearest server of ${PUBLIC_DEFAULTS.serverList}.

Server:
  --servers FILE             a LibreSpeed server list (JSON): test the lowest-latency one
  --protocol P               librespeed or cloudflare (default: asked from the server)
  --default-server URL       replaces the public default server
  --default-server-list URL  replaces the public default LibreSpeed list
  --ca FILE                  also trust this CA certificate (PEM) for https://
Path:
  -4, --ipv4 / -6, --ipv6    use this address family
  -I, --interface IF         send from IF's address
Method:
  --streams N                parallel connections per direction (default 4)
  --max-time DURATION        longest counted time per direction (default 3s)
  --timeout DURATION         a request that moves nothing this long has stalled (default 10s)
  --pings N                  idle round trips (default 10)
  --max-request-size SIZE    largest single request, e.g. 16M (default 64M)
  --no-download, --no-upload leave a direction out
Output:
  --json                     the result as one JSON document (docs/speedtest.md)
  --db PATH                  also store the result in this history database (netmeter report --speed)
`;

export async function runSpeedtestCommand(argv: string[], io: CommandIo & { isTTY?: boolean }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      servers: { type: 'string' },
      protocol: { type: 'string' },
      'default-server': { type: 'string' },
      'default-server-list': { type: 'string' },
      ca: { type: 'string' },
      ipv4: { type: 'boolean', short: '4', default: false },
      ipv6: { type: 'boolean', short: '6', default: false },
      interface: { type: 'string', short: 'I' },
      streams: { type: 'string' },
      'max-time': { type: 'string' },
      timeout: { type: 'string' },
      pings: { type: 'string' },
      'max-request-size': { type: 'string' },
      'no-download': { type: 'boolean', default: false },
      'no-upload': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      db: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(SPEEDTEST_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const url = positionals[0];
  if (url !== undefined && values.servers !== undefined) throw new UsageError('give a URL or --servers, not both');
  if (values.ipv4 && values.ipv6) throw new UsageError('give --ipv4 or --ipv6, not both');
  if (values['no-download'] && values['no-upload']) throw new UsageError('--no-download and --no-upload leave nothing to measure');
  const protocol = values.protocol;
  if (protocol !== undefined && protocol !== 'librespeed' && protocol !== 'cloudflare') throw new UsageError(`--protocol: '${protocol}' is not one of librespeed, cloudflare`);
  const streams = parsePositiveInteger('streams', values.streams);
  if (streams !== undefined && streams > 32) throw new UsageError('--streams: at most 32');
  const maxTime = parseDuration('max-time', values['max-time']);
  const timeout = parseDuration('timeout', values.timeout);
  const pings = parsePositiveInteger('pings', values.pings);
  const maxRequest = values['max-request-size'] === undefined ? undefined : parseSize('max-request-size', values['max-request-size']);

  const serverList = values.servers === undefined ? undefined : { text: readText(values.servers, 'the server list'), where: `server list ${values.servers}` };
  const ca = values.ca === undefined ? undefined : readText(values.ca, 'the CA certificate');

  const progress = values.json ? undefined : progressPrinter(io.stderr, Boolean(io.isTTY));
  const result = await runSpeedtest({
    server: {
      ...(url !== undefined ? { url } : {}),
      ...(protocol !== undefined ? { protocol: protocol as Protocol } : {}),
      ...(serverList ? { serverList } : {}),
      defaults: { server: values['default-server'] ?? PUBLIC_DEFAULTS.server, serverList: values['default-server-list'] ?? PUBLIC_DEFAULTS.serverList },
      selectionPings: 3,
    },
    ...(values.ipv4 ? { family: 4 as const } : values.ipv6 ? { family: 6 as const } : {}),
    ...(values.interface !== undefined ? { interface: values.interface } : {}),
    ...(ca !== undefined ? { ca } : {}),
    method: {
      ...(streams !== undefined ? { streams } : {}),
      ...(maxTime !== undefined ? { maxMeasureMs: maxTime * 1000, minMeasureMs: Math.min(DEFAULT_METHOD.minMeasureMs, maxTime * 1000) } : {}),
      ...(maxRequest !== undefined ? { maxRequestBytes: maxRequest, initialRequestBytes: Math.min(1 << 20, maxRequest) } : {}),
    },
    ...(timeout !== undefined ? { stallMs: timeout * 1000 } : {}),
    ...(pings !== undefined ? { pingCount: pings } : {}),
    download: !values['no-download'],
    upload: !values['no-upload'],
    ...(progress ? { onEvent: progress.onEvent } : {}),
  });
  progress?.done();
  if (values.db !== undefined) await storeResult(values.db, result);
  io.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result));
  if (result.status !== 'complete') throw new SpeedtestError(`speed test ${result.status}: ${result.error ?? 'unknown error'}`);
  return 0;
}

/** Every result is stored with its status: a failed or partial one is never taken for a measurement. */
async function storeResult(path: string, result: SpeedtestResult): Promise<void> {
  const { closeHistory, openHistoryForWriting, withSqliteErrors } = await import('../history/database.js');
  const { insertSpeedTest } = await import('../speedtest/store.js');
  const db = openHistoryForWriting(path);
  try {
    withSqliteErrors(path, 'write', () => insertSpeedTest(db, result));
  } finally {
    closeHistory(db);
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new SpeedtestError(`cannot read ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** "16M", "512K", "1G" (binary units) or plain bytes. */
export function parseSize(name: string, text: string): number {
  const match = /^(\d+)([KMG])?i?B?$/i.exec(text.trim());
  if (!match || Number(match[1]) < 1) throw new UsageError(`--${name}: '${text}' is not a size (e.g. 16M, 512K)`);
  const scale = { K: 1 << 10, M: 1 << 20, G: 1 << 30 }[(match[2] ?? '').toUpperCase() as 'K' | 'M' | 'G'] ?? 1;
  return Number(match[1]) * scale;
}
