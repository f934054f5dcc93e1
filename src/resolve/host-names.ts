// The names of remote hosts, by address: learnt from DNS answers seen in the capture (the
// name a program asked for) and from reverse lookups (the PTR a resolver gave back). One
// bounded cache with a time-to-live per name; a name from a DNS answer is never replaced
// by a reverse lookup's (the CDN's PTR says less than the name the program asked for).

import { LRUCache } from 'lru-cache';
import { unmapIpv4 } from '../decode/address.js';
import type { Clock } from '../clock.js';
import type { ConnectionUsage } from '../present/usage-report.js';

export type NameSource = 'dns' | 'reverse';

interface Entry {
  /** null: a reverse lookup found no name (kept, so the resolver is not asked again at once). */
  name: string | null;
  source: NameSource;
}

export interface HostNamesOptions {
  /** Addresses kept at most; the least recently used leave first. Default 10,000. */
  maxEntries?: number;
  /** Bounds on how long a name is kept, whatever its record's TTL says. Defaults 60 s and 1 h. */
  minTtlSeconds?: number;
  maxTtlSeconds?: number;
  /** The clock the TTLs run on (monotonic); tests pass a fake one. */
  clock?: Pick<Clock, 'monotonic'>;
}

export class HostNames {
  private readonly cache: LRUCache<string, Entry>;
  private readonly minTtlMs: number;
  private readonly maxTtlMs: number;

  constructor(options: HostNamesOptions = {}) {
    this.minTtlMs = (options.minTtlSeconds ?? 60) * 1000;
    this.maxTtlMs = (options.maxTtlSeconds ?? 3600) * 1000;
    const clock = options.clock;
    this.cache = new LRUCache<string, Entry>({
      max: options.maxEntries ?? 10_000,
      ttl: this.maxTtlMs,
      // A name shown again stays: a connection outlives its name's TTL (30 s is common)
      // and must not turn into the CDN's PTR half-way.
      updateAgeOnGet: true,
      // Read the clock on every check (a few lookups a report), not a value cached by a timer.
      ttlResolution: 0,
      ...(clock ? { perf: { now: () => clock.monotonic() } } : {}),
    });
  }

  /** A name from a DNS answer: replaces whatever was known of the address. */
  learnAnswer(address: string, name: string, ttlSeconds: number): void {
    if (name === '') return;
    this.cache.set(address, { name, source: 'dns' }, { ttl: this.ttlMs(ttlSeconds) });
  }

  /** A reverse lookup's outcome (null: no name); never replaces a name from a DNS answer. */
  learnReverse(address: string, name: string | null, ttlSeconds: number): void {
    const known = this.cache.peek(address);
    if (known?.source === 'dns') return;
    this.cache.set(address, { name, source: 'reverse' }, { ttl: this.ttlMs(ttlSeconds) });
  }

  /** The name of `address`, if one is known (an IPv4-mapped address by its IPv4 name too). */
  name(address: string): string | undefined {
    const entry = this.cache.get(address) ?? this.cacheOfMapped(address);
    return entry?.name ?? undefined;
  }

  /** Whether anything (a name, or that there is none) is known of `address`. */
  has(address: string): boolean {
    return this.cache.has(address);
  }

  get size(): number {
    return this.cache.size;
  }

  /** Sets `remoteName` on every connection whose remote address has a name. */
  label(connections: ConnectionUsage[]): void {
    for (const c of connections) {
      const name = this.name(c.remoteAddress);
      if (name !== undefined) c.remoteName = name;
    }
  }

  private cacheOfMapped(address: string): Entry | undefined {
    const v4 = unmapIpv4(address);
    return v4 === undefined ? undefined : this.cache.get(v4);
  }

  private ttlMs(seconds: number): number {
    return Math.min(this.maxTtlMs, Math.max(this.minTtlMs, seconds * 1000));
  }
}
