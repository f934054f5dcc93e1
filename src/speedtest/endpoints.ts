// The two server protocols netmeter speaks, as URLs: LibreSpeed backends (garbage.php,
// empty.php, getIP.php under a base URL) and Cloudflare-style endpoints (__down?bytes=N,
// __up). Each also says how fine download sizes can be and where the public address is.

import type { Protocol } from './result.js';

export const MIB = 1 << 20;

export interface ServerEndpoints {
  protocol: Protocol;
  name: string;
  /** The URL the user or the list named. */
  base: URL;
  /** Download sizes are whole multiples of this (LibreSpeed asks in MiB chunks). */
  downloadGranularity: number;
  downloadUrl(bytes: number): URL;
  uploadUrl(): URL;
  pingUrl(): URL;
  /** Where the client's public address is asked; undefined: read it from a download's headers. */
  ipUrl(): URL;
  /** The public address in the ipUrl answer, or null when it has none. */
  parsePublicAddress(body: string, headers: Record<string, string | string[] | undefined>): string | null;
}

export interface LibreSpeedPaths {
  dlURL: string;
  ulURL: string;
  pingURL: string;
  getIpURL: string;
}

export const LIBRESPEED_PATHS: LibreSpeedPaths = { dlURL: 'garbage.php', ulURL: 'empty.php', pingURL: 'empty.php', getIpURL: 'getIP.php' };

/** `base` is a backend's directory (a missing final / is added, as LibreSpeed's clients do). */
export function librespeedEndpoints(base: URL, name = base.host, paths: LibreSpeedPaths = LIBRESPEED_PATHS): ServerEndpoints {
  const dir = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
  const at = (path: string) => new URL(path, dir);
  return {
    protocol: 'librespeed',
    name,
    base,
    downloadGranularity: MIB,
    downloadUrl: (bytes) => withQuery(at(paths.dlURL), 'ckSize', String(Math.max(1, Math.round(bytes / MIB)))),
    uploadUrl: () => at(paths.ulURL),
    pingUrl: () => at(paths.pingURL),
    ipUrl: () => at(paths.getIpURL),
    parsePublicAddress: (body) => {
      // Current backends answer {"processedString": "203.0.113.5 - ISP", ...}; old ones the address alone.
      let text = body.trim();
      try {
        const parsed = JSON.parse(text) as { processedString?: unknown };
        if (typeof parsed?.processedString === 'string') text = parsed.processedString;
      } catch {
        // plain text
      }
      const address = text.split(' - ')[0]!.trim();
      return address !== '' && address.length <= 64 ? address : null;
    },
  };
}

/** Cloudflare's speed test paths under `base` (https://speed.cloudflare.com/ publicly). */
export function cloudflareEndpoints(base: URL, name = base.host): ServerEndpoints {
  const dir = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
  return {
    protocol: 'cloudflare',
    name,
    base,
    downloadGranularity: 1,
    downloadUrl: (bytes) => withQuery(new URL('__down', dir), 'bytes', String(Math.max(0, Math.round(bytes)))),
    uploadUrl: () => new URL('__up', dir),
    pingUrl: () => withQuery(new URL('__down', dir), 'bytes', '0'),
    ipUrl: () => new URL('cdn-cgi/trace', dir),
    parsePublicAddress: (body, headers) => {
      const header = headers['cf-meta-ip'];
      if (typeof header === 'string' && header !== '') return header;
      const line = /^ip=(.+)$/m.exec(body);
      return line ? line[1]!.trim() : null;
    },
  };
}

export function endpointsFor(protocol: Protocol, base: URL, name?: string): ServerEndpoints {
  return protocol === 'cloudflare' ? cloudflareEndpoints(base, name) : librespeedEndpoints(base, name);
}

function withQuery(url: URL, key: string, value: string): URL {
  url.searchParams.set(key, value);
  return url;
}
