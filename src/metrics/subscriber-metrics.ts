// Per-subscriber series (`--by host`; opt-in with the config's metrics.subscribers, see
// docs/fleet/README.md "Subscribers"): the subscribers' usage counters with a `host`
// label, bounded as the applications' are (NamedPlaces): at most `max` subscribers get
// series of their own in one daemon run and the rest are host="other". Not enabled, every
// subscriber's traffic is host="other": one series per interface, whatever the number of
// subscribers. Pure folding here; SessionMetrics registers the counters.

import { Gauge, type Registry } from 'prom-client';
import type { UsageCounts, UsageTotal } from '../history/usage-key.js';
import { FoldedSeries, NamedPlaces, sumInto } from './application-folding.js';
import { registerTextCounter, type TextSeries } from './exposition-text.js';
import type { SubscriberMetricsConfig } from './metrics-config.js';

export const OTHER_HOST = 'other';

export interface SubscriberSeries extends UsageCounts {
  host: string;
  interface: string;
}

export interface FoldedSubscribers {
  /** Valid until the next fold (one object per series for the run, as the applications'). */
  series: Array<SubscriberSeries & TextSeries>;
  /** Subscribers with bytes whose traffic is in host="other". */
  folded: number;
  named: number;
}

class Series extends FoldedSeries implements SubscriberSeries {
  readonly interface: string;
  constructor(
    readonly host: string,
    iface: string,
  ) {
    super([['host', host], ['interface', iface]]);
    this.interface = iface;
  }
  labels(): Record<string, string> {
    return { host: this.host, interface: this.interface };
  }
}

export class SubscriberFolding {
  private readonly named: NamedPlaces;
  /**
   * By host, then interface: the totals' own strings are the keys, so a lookup hashes no new
   * string (10,000 a scrape).
   */
  private readonly series = new Map<string, Map<string, Series>>();
  private folds = 0;

  constructor(config: SubscriberMetricsConfig) {
    this.named = new NamedPlaces(config.enabled ? config.max : 0);
  }

  get limit(): number {
    return this.named.limit;
  }

  /** `totals`: the subscribers' cumulative totals (usage keys with a host). */
  fold(totals: readonly UsageTotal[]): FoldedSubscribers {
    const bytes = new Map<string, number>();
    for (const t of totals) bytes.set(t.host!, (bytes.get(t.host!) ?? 0) + t.sentBytes + t.receivedBytes);
    const folded = this.named.admit(bytes);
    const series = sumInto(totals, ++this.folds, (t) => {
      const host = this.named.has(t.host!) ? t.host! : OTHER_HOST;
      let byInterface = this.series.get(host);
      if (!byInterface) this.series.set(host, (byInterface = new Map()));
      let s = byInterface.get(t.interface);
      if (!s) byInterface.set(t.interface, (s = new Series(host, t.interface)));
      return s;
    });
    return { series, folded, named: this.named.size };
  }
}

/** The subscribers' counters and gauges; `read` gives the scrape's folding (one per scrape). */
export function registerSubscriberMetrics(registry: Registry, read: () => FoldedSubscribers, limit: number): void {
  const counters: Array<[string, string, keyof UsageCounts]> = [
    ['netmeter_subscriber_sent_bytes_total', 'Bytes the subscriber sent (wire length), per interface; subscribers beyond the configured maximum are host="other".', 'sentBytes'],
    ['netmeter_subscriber_received_bytes_total', 'Bytes the subscriber received (wire length), per interface; subscribers beyond the configured maximum are host="other".', 'receivedBytes'],
    ['netmeter_subscriber_sent_packets_total', 'Packets the subscriber sent, per interface.', 'sentPackets'],
    ['netmeter_subscriber_received_packets_total', 'Packets the subscriber received, per interface.', 'receivedPackets'],
  ];
  // Served as they are folded, as text (exposition-text.ts): 10,000 subscribers make 40,000
  // samples a scrape. All four read the one folding of the scrape.
  for (const [name, help, field] of counters) registerTextCounter(registry, name, help, () => read().series, (s) => s[field]);
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name, help, registers: [registry],
      collect() {
        this.set(value());
      },
    });
  gauge('netmeter_subscribers_folded', 'Subscribers without series of their own: their traffic is in host="other".', () => read().folded);
  gauge('netmeter_subscribers_named', 'Subscribers given series of their own in this daemon run.', () => read().named);
  gauge('netmeter_subscribers_named_limit', 'The most subscribers given series of their own in one daemon run (config metrics.subscribers.max; 0 unless enabled).', () => limit);
}
