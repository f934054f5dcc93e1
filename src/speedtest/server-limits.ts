// What keeps speedtest-server from being abused, as plain state with an injected clock:
// requests per client address per minute (a fixed one-minute window per address), and a
// bound on how many addresses are remembered, so a flood of sources cannot grow memory.

export interface ServerLimits {
  /** Downloads and uploads running at once, over all clients. */
  maxConcurrentTransfers: number;
  /** Largest body one request may ask for or send. */
  maxRequestBytes: number;
  /** Requests one client address may make per minute. */
  requestsPerMinute: number;
  /** Open connections at once. */
  maxConnections: number;
  /** A connection that moves nothing for this long is closed (slow or stuck clients). */
  idleTimeoutMs: number;
  /** UDP probes one address may send per second; more are not answered. */
  probesPerSecond: number;
  /** Addresses remembered for the per-minute count. */
  maxTrackedAddresses: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxConcurrentTransfers: 64,
  maxRequestBytes: 256 << 20,
  // A client on a fast link makes many requests: at 10 Gbit/s its 4 streams of 64 MiB
  // requests make ~75 a second. 1,200 a minute sent an idle loopback test 429s.
  requestsPerMinute: 6000,
  maxConnections: 512,
  idleTimeoutMs: 30_000,
  probesPerSecond: 200,
  maxTrackedAddresses: 10_000,
};

/** Counts events per key in fixed windows; forgets the oldest key when full. */
export class WindowCounter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly limit: number,
    private readonly maxKeys: number,
    private readonly now: () => number,
  ) {}

  /** Counts one event for `key`; false when the key is over its limit in this window. */
  allow(key: string): boolean {
    const t = this.now();
    let window = this.windows.get(key);
    if (!window || t - window.start >= this.windowMs) {
      if (window) this.windows.delete(key);
      window = { start: t, count: 0 };
      if (this.windows.size >= this.maxKeys) this.evict(t);
      this.windows.set(key, window);
    }
    window.count++;
    return window.count <= this.limit;
  }

  get size(): number {
    return this.windows.size;
  }

  /** Drops expired windows; if none expired, the oldest (Map keeps insertion order). */
  private evict(t: number): void {
    for (const [key, window] of this.windows) {
      if (t - window.start >= this.windowMs) this.windows.delete(key);
    }
    if (this.windows.size >= this.maxKeys) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
  }
}

/** One client address's test: what it moved since its first request; logged when it goes quiet. */
export interface ClientSession {
  address: string;
  protocol: Set<'librespeed' | 'cloudflare'>;
  firstMs: number;
  lastMs: number;
  requests: number;
  downloadBytes: number;
  uploadBytes: number;
  refused: number;
}

export function formatSessionLine(session: ClientSession, startedAt: Date): string {
  const seconds = ((session.lastMs - session.firstMs) / 1000).toFixed(1);
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const protocols = [...session.protocol].join('+') || '-';
  return `${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} test from ${session.address} ${protocols}: down ${mb(session.downloadBytes)} MB, up ${mb(session.uploadBytes)} MB, ${session.requests} requests in ${seconds} s, ${session.refused} refused`;
}
