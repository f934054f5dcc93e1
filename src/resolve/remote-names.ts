// Names for a live run's remote hosts: the DNS answers watched on the captured devices and
// reverse lookups for the hosts a report shows, both into one HostNames cache, which labels
// each report's connections (`remoteName`). The live command ties it to the session's
// ticks; --no-resolve leaves it out altogether.

import type { Clock } from '../clock.js';
import type { UsageReport } from '../present/usage-report.js';
import { DnsWatch, type DnsWatchOptions } from './dns-watch.js';
import { HostNames } from './host-names.js';
import { ReverseLookups, type ReverseResolver } from './reverse-lookups.js';

/** Hosts of a report looked up at most (largest connections first): about a screen's worth. */
const SHOWN_HOSTS = 50;

/** For `?`: where names come from, and what reverse lookups give away. */
export const NAMES_FROM =
  'DNS answers seen in the capture (the name a program asked for), else reverse lookups — which tell your DNS resolver the hosts you talk to (--no-resolve: none)';

export interface RemoteNamesOptions extends DnsWatchOptions {
  clock: Pick<Clock, 'monotonic'>;
  resolver?: ReverseResolver;
}

export class RemoteNames {
  readonly names: HostNames;
  readonly watch: DnsWatch;
  readonly lookups: ReverseLookups;
  /** Hosts the previous report showed without a name. */
  private unnamedBefore = new Set<string>();

  constructor(options: RemoteNamesOptions) {
    this.names = new HostNames({ clock: options.clock });
    this.watch = new DnsWatch(this.names, options);
    this.lookups = new ReverseLookups(this.names, { clock: options.clock, ...(options.resolver ? { resolver: options.resolver } : {}) });
  }

  /** Watches the DNS answers on exactly these devices (call as they change). */
  follow(devices: readonly string[]): Promise<void> {
    return this.watch.follow(devices);
  }

  /**
   * Labels the report's connections with the names known now, and asks for reverse lookups
   * of the shown hosts that have none (answers label a later report). Never waits.
   */
  label(report: UsageReport, lookUp = true): void {
    this.names.label(report.connections);
    if (!lookUp) return;
    const unnamed = new Set<string>();
    for (const c of report.connections) {
      if (unnamed.size >= SHOWN_HOSTS) break;
      if (c.remoteName === undefined) unnamed.add(c.remoteAddress);
    }
    // Only hosts still unnamed a report later: a connection's first packets can reach the
    // meter before the DNS watch reads the answer that names it, and a lookup then would
    // tell the resolver of a host that needed none.
    this.lookups.want([...unnamed].filter((address) => this.unnamedBefore.has(address)));
    this.unnamedBefore = unnamed;
  }

  async close(): Promise<void> {
    this.lookups.close();
    await this.watch.close();
  }
}
