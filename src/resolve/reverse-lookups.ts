// Reverse lookups (PTR) of remote addresses that have no name from a DNS answer, off the
// packet path: asked for the hosts a report shows, started at most `perSecond` a second
// and `maxInFlight` at once, and never awaited by a tick or a frame — a name found shows
// in the next report. Each lookup tells the system's resolver which host this machine
// talks to (said in `?` and the README); --no-resolve turns them off.

import { Resolver } from 'node:dns/promises';
import type { Clock } from '../clock.js';
import type { HostNames } from './host-names.js';

/** The part of node:dns's Resolver used here; tests pass one pointed at their own server. */
export interface ReverseResolver {
  reverse(address: string): Promise<string[]>;
  /** Ends the lookups in flight (they reject): a stopping netmeter does not wait for them. */
  cancel?(): void;
}

export interface ReverseLookupsOptions {
  resolver?: ReverseResolver;
  clock: Pick<Clock, 'monotonic'>;
  /** Lookups started per second at most. Default 10. */
  perSecond?: number;
  /** Lookups waiting for an answer at most. Default 4. */
  maxInFlight?: number;
  /** How long a found name is kept (PTR TTLs are not exposed by node:dns). Default 1 h. */
  nameTtlSeconds?: number;
  /** How long "no name" is kept before asking again. Default 5 min. */
  missTtlSeconds?: number;
}

export interface ReverseLookupCounts {
  started: number;
  named: number;
  unnamed: number;
}

/** The system's resolver (/etc/resolv.conf), answering within 2 s, with one retry. */
export function systemReverseResolver(): ReverseResolver {
  return new Resolver({ timeout: 2000, tries: 2 });
}

export class ReverseLookups {
  readonly counts: ReverseLookupCounts = { started: 0, named: 0, unnamed: 0 };
  private readonly resolver: ReverseResolver;
  private readonly perSecond: number;
  private readonly maxInFlight: number;
  private readonly pending = new Set<string>();
  /** Addresses asked for and not started yet, most wanted first; replaced by each want(). */
  private queue: string[] = [];
  private windowStart = -Infinity;
  private startedInWindow = 0;
  private closed = false;

  constructor(
    private readonly names: HostNames,
    private readonly options: ReverseLookupsOptions,
  ) {
    this.resolver = options.resolver ?? systemReverseResolver();
    this.perSecond = options.perSecond ?? 10;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  /**
   * The addresses shown now, most important first: those without any name known are
   * queued (the previous queue is dropped: hosts no longer shown are not looked up) and
   * lookups start as the rate allows. Returns at once.
   */
  want(addresses: Iterable<string>): void {
    const queue: string[] = [];
    const seen = new Set<string>();
    for (const address of addresses) {
      if (seen.has(address) || this.pending.has(address) || this.names.has(address)) continue;
      seen.add(address);
      queue.push(address);
    }
    this.queue = queue;
    this.startLookups();
  }

  /** Lookups in flight (for tests that wait for them). */
  get inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    if (this.pending.size > 0) this.resolver.cancel?.();
  }

  private startLookups(): void {
    const now = this.options.clock.monotonic();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.startedInWindow = 0;
    }
    while (!this.closed && this.queue.length > 0 && this.pending.size < this.maxInFlight && this.startedInWindow < this.perSecond) {
      const address = this.queue.shift()!;
      this.startedInWindow++;
      this.lookUp(address);
    }
  }

  private lookUp(address: string): void {
    this.pending.add(address);
    this.counts.started++;
    const nameTtl = this.options.nameTtlSeconds ?? 3600;
    const missTtl = this.options.missTtlSeconds ?? 300;
    this.resolver.reverse(address).then(
      (hostnames) => {
        const name = hostnames.map(cleanName).find((n) => n !== '');
        if (name) this.counts.named++;
        else this.counts.unnamed++;
        this.names.learnReverse(address, name ?? null, name ? nameTtl : missTtl);
      },
      () => {
        if (this.closed) return;
        // NXDOMAIN, a timeout, no resolver: no name for now; asked again after missTtl.
        this.counts.unnamed++;
        this.names.learnReverse(address, null, missTtl);
      },
    ).finally(() => {
      this.pending.delete(address);
      if (!this.closed) this.startLookups();
    });
  }
}

/** A PTR name as safe text, as DNS answers are (lower case; odd bytes escaped; no root dot). */
export function cleanName(name: string): string {
  let text = '';
  for (const ch of name.replace(/\.$/, '').toLowerCase()) {
    text += /[a-z0-9._-]/.test(ch) ? ch : `\\${String(ch.codePointAt(0)).padStart(3, '0')}`;
  }
  return text;
}
