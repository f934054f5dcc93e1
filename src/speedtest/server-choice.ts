// Which server a test runs against: the URL given (its protocol told by the URL or found
// by asking), the lowest-latency entry of a LibreSpeed server list (as LibreSpeed's own
// CLI picks), or the public defaults — Cloudflare's endpoint, and if it cannot be reached
// LibreSpeed's public list — which a user or the config can replace.

import { ConfigError } from '../history/config.js';
import { LIBRESPEED_PATHS, cloudflareEndpoints, librespeedEndpoints, type LibreSpeedPaths, type ServerEndpoints } from './endpoints.js';
import { SpeedtestError } from './errors.js';
import { ping } from './latency.js';
import type { Protocol } from './result.js';
import type { Transport } from './transport.js';

/** Public servers used when no URL is given (docs/speedtest.md; config keys defaultServer, defaultServerList). */
export const PUBLIC_DEFAULTS = {
  server: 'https://speed.cloudflare.com/',
  serverList: 'https://librespeed.org/backend-servers/servers.php',
};

export interface ServerListEntry {
  name: string;
  server: URL;
  paths: LibreSpeedPaths;
}

export interface ServerRequest {
  url?: string;
  protocol?: Protocol;
  /** A LibreSpeed server list already read from a file. */
  serverList?: { text: string; where: string };
  defaults: { server: string; serverList: string };
  /** Round trips per candidate when picking from a list. */
  selectionPings: number;
}

export interface ChosenServer {
  endpoints: ServerEndpoints;
  chosenFrom: 'url' | 'list' | 'default';
}

/** LibreSpeed's JSON list: [{name, server, dlURL, ulURL, pingURL, getIpURL}, ...]; `server` may start with // (either scheme: https is taken). */
export function parseServerList(text: string, where: string): ServerListEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${where} is not valid JSON (${(error as Error).message.replace(/\s+/g, ' ')}): it must be a LibreSpeed server list`);
  }
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError(`${where}: must be a non-empty JSON list of servers like [{"name": "...", "server": "https://host/", "dlURL": "garbage.php", ...}]`);
  return value.map((entry, i) => {
    const at = `${where}: server ${i + 1}`;
    if (typeof entry !== 'object' || entry === null) throw new ConfigError(`${at} is not an object`);
    const e = entry as Record<string, unknown>;
    const text = (key: string, fallback?: string): string => {
      const v = e[key] ?? fallback;
      if (typeof v !== 'string' || v === '') throw new ConfigError(`${at}: '${key}' must be a non-empty text`);
      return v;
    };
    const raw = text('server');
    let server: URL;
    try {
      server = new URL(raw.startsWith('//') ? `https:${raw}` : raw);
    } catch {
      throw new ConfigError(`${at}: server '${raw}' is not a URL`);
    }
    if (server.protocol !== 'http:' && server.protocol !== 'https:') throw new ConfigError(`${at}: server '${raw}' is not http:// or https://`);
    return {
      name: typeof e.name === 'string' && e.name !== '' ? e.name : server.host,
      server,
      paths: {
        dlURL: text('dlURL', LIBRESPEED_PATHS.dlURL),
        ulURL: text('ulURL', LIBRESPEED_PATHS.ulURL),
        pingURL: text('pingURL', LIBRESPEED_PATHS.pingURL),
        getIpURL: text('getIpURL', LIBRESPEED_PATHS.getIpURL),
      },
    };
  });
}

export async function chooseServer(request: ServerRequest, transport: Transport): Promise<ChosenServer> {
  if (request.url !== undefined) {
    const base = parseUrl(request.url, 'the server URL');
    const protocol = request.protocol ?? (await detectProtocol(base, transport));
    return { endpoints: protocol === 'cloudflare' ? cloudflareEndpoints(base) : librespeedEndpoints(base), chosenFrom: 'url' };
  }
  if (request.serverList) {
    const entries = parseServerList(request.serverList.text, request.serverList.where);
    return { endpoints: await pickLowestLatency(entries.map((e) => librespeedEndpoints(e.server, e.name, e.paths)), transport, request.selectionPings), chosenFrom: 'list' };
  }
  // The defaults: the single endpoint first, the volunteer list if it cannot be reached.
  const primary = cloudflareEndpoints(parseUrl(request.defaults.server, 'the default server'));
  let primaryError: Error;
  try {
    await pickLowestLatency([primary], transport, 1);
    return { endpoints: primary, chosenFrom: 'default' };
  } catch (error) {
    primaryError = error as Error;
  }
  try {
    const listUrl = parseUrl(request.defaults.serverList, 'the default server list');
    const connection = transport.connect();
    let answer;
    try {
      answer = await transport.fetchText(connection, listUrl, 4 << 20);
    } finally {
      connection.close();
    }
    if (answer.status !== 200) throw new SpeedtestError(`the server list ${listUrl.href} answered HTTP ${answer.status}`);
    const entries = parseServerList(answer.body, `the server list ${listUrl.href}`);
    return { endpoints: await pickLowestLatency(entries.map((e) => librespeedEndpoints(e.server, e.name, e.paths)), transport, request.selectionPings), chosenFrom: 'default' };
  } catch (error) {
    throw new SpeedtestError(`no default server answered (${primary.base.host}: ${primaryError.message}; then: ${(error as Error).message}): give a server URL`);
  }
}

/** Asks the base for LibreSpeed's empty.php, then Cloudflare's __down?bytes=0. */
export async function detectProtocol(base: URL, transport: Transport): Promise<Protocol> {
  if (base.hostname === 'speed.cloudflare.com') return 'cloudflare';
  let lastError: Error | undefined;
  for (const endpoints of [librespeedEndpoints(base), cloudflareEndpoints(base)]) {
    const connection = transport.connect();
    try {
      await ping(transport, connection, endpoints);
      return endpoints.protocol;
    } catch (error) {
      // A refused connection or a TLS failure will not get better with the other protocol.
      if (!/answered HTTP/.test((error as Error).message)) throw error;
      lastError = error as Error;
    } finally {
      connection.close();
    }
  }
  throw new SpeedtestError(`${base.href} speaks neither LibreSpeed (empty.php) nor Cloudflare's (__down) protocol (${lastError?.message ?? ''}): check the URL or give --protocol`);
}

/** Pings every candidate (`pings` round trips each, at once) and returns the fastest that answered. */
export async function pickLowestLatency(candidates: ServerEndpoints[], transport: Transport, pings: number): Promise<ServerEndpoints> {
  const measured = await Promise.all(
    candidates.map(async (endpoints) => {
      const connection = transport.connect();
      try {
        await ping(transport, connection, endpoints);
        const rtts: number[] = [];
        for (let i = 0; i < pings; i++) rtts.push((await ping(transport, connection, endpoints)).elapsedMs);
        rtts.sort((a, b) => a - b);
        return { endpoints, rtt: rtts[rtts.length >> 1] ?? 0 };
      } catch (error) {
        return { endpoints, error: error as Error };
      } finally {
        connection.close();
      }
    }),
  );
  const answered = measured.filter((m): m is { endpoints: ServerEndpoints; rtt: number } => 'rtt' in m);
  if (answered.length === 0) {
    const first = measured[0] as { error: Error };
    throw new SpeedtestError(candidates.length === 1 ? first.error.message : `none of the ${candidates.length} servers answered (first: ${first.error.message})`);
  }
  answered.sort((a, b) => a.rtt - b.rtt);
  return answered[0]!.endpoints;
}

function parseUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SpeedtestError(`${what} '${text}' is not a URL (e.g. http://speedtest.example.net/backend/)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SpeedtestError(`${what} '${text}' is not http:// or https://`);
  return url;
}
