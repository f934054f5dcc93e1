// Per-subscriber series (`--by host`; opt-in with the config's metrics.subscribers, see
// docs/fleet/README.md "Subscribers"): the subscribers' usage counters with a `host`
// label, bounded as the applications' are (NamedPlaces): at most `max` subscribers get
// series of their own in one daemon run and the rest are host="other". Not enabled, every
// subscriber's traffic is host="other": one series per interface, whatever the number of
// subscribers. Pure folding here; SessionMetrics registers the counters.

import { Gauge, type Metric, type Registry } from 'prom-client';
import { addCounts, zeroCounts, type UsageCounts, type UsageTotal } from '../history/usage-key.js';
import { NamedPlaces } from './application-folding.js';
import type { SubscriberMetricsConfig } from './metrics-config.js';

export const OTHER_HOST = 'other';

export interface SubscriberSeries extends UsageCounts {
  host: string;
  interface: string;
}

export interface FoldedSubscribers {
  series: SubscriberSeries[];
  /** Subscribers with bytes whose traffic is in host="other". */
  folded: number;
  named: number;
}

export class SubscriberFolding {
  private readonly named: NamedPlaces;

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
    const series = new Map<string, SubscriberSeries>();
    for (const t of totals) {
      const host = this.named.has(t.host!) ? t.host! : OTHER_HOST;
      const key = JSON.stringify([host, t.interface]);
      let s = series.get(key);
      if (!s) series.set(key, (s = { host, interface: t.interface, ...zeroCounts() }));
      addCounts(s, t);
    }
    return { series: [...series.values()], folded, named: this.named.size };
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
  // Served as they are folded: 10,000 subscribers make 40,000 samples a scrape, and
  // prom-client's Counter would first hash each one's labels into a map of its own (a fifth
  // of the CPU of serving them, docs/benchmarks.md). get() runs in the scrape's first
  // synchronous pass, as the collectors do, so all four read the one folding.
  for (const [name, help, field] of counters) {
    const family = { name, help, type: 'counter', aggregator: 'sum' } as const;
    registry.registerMetric({
      ...family,
      get: async () => ({ ...family, values: read().series.map((s) => ({ labels: { host: s.host, interface: s.interface }, value: s[field] })) }),
      reset: () => undefined,
    } as unknown as Metric);
  }
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
