// The capture session's numbers as Prometheus metrics (names in docs/fleet/README.md):
// per application (and, with --by host, per subscriber) the folded usage counters, per interface the kernel's counters beside
// what was captured, unknown and other, the capture's drops, active connections, and the
// billing period. Everything is read from the session when Prometheus scrapes (collect
// callbacks), once per scrape: nothing is done per packet.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { Traffic } from '../account/counters.js';
import type { InterfaceReading } from '../session/capture-session.js';
import { UNKNOWN_APP, type UsageTotal } from '../history/usage-key.js';
import { ApplicationFolding, type FoldedApplications } from './application-folding.js';
import { registerTextCounter } from './exposition-text.js';
import { registerSubscriberMetrics, SubscriberFolding, type FoldedSubscribers } from './subscriber-metrics.js';
import { DEFAULT_METRICS_CONFIG, type SubscriberMetricsConfig } from './metrics-config.js';

/** The billing period as the history has it (undefined: no price nor quota configured). */
export interface BillingReading {
  usedBytes: number;
  projectedBytes: number;
  currency: string;
  cost?: number;
  projectedCost?: number;
  quotaBytes?: number;
  /** Seconds since the epoch. */
  periodStart: number;
  periodEnd: number;
}

/** What the metrics read of a capture session (CaptureSession; a fake in tests). */
export interface SessionMetricsSource {
  usageTotals(): UsageTotal[];
  kernelReadings(): InterfaceReading[];
  droppedPackets(): Map<string, number>;
  readonly meter: {
    readonly interfaces: ReadonlyMap<string, Traffic>;
    readonly otherByInterface: ReadonlyMap<string, Traffic>;
    readonly connectionCount: number;
  };
}

/** One scrape's reading of the session: every collector of the scrape sees the same one. */
interface Reading {
  applications: FoldedApplications;
  subscribers: FoldedSubscribers;
  unknown: Map<string, { sent: number; received: number }>;
}

export interface SessionMetricsOptions {
  topApplications: number;
  /** `--by host`: subscribers' series (default: not enabled, all host="other"). */
  subscribers?: SubscriberMetricsConfig;
  /** The billing period now; undefined when nothing is billed. Read once per scrape. */
  billing?: () => BillingReading | undefined;
}

export class SessionMetrics {
  private readonly folding: ApplicationFolding;
  private readonly subscriberFolding: SubscriberFolding;
  private reading: Reading | undefined;
  private billing: { value: BillingReading | undefined } | undefined;

  constructor(
    private readonly source: SessionMetricsSource,
    registry: Registry,
    private readonly options: SessionMetricsOptions,
  ) {
    this.folding = new ApplicationFolding(options.topApplications);
    this.subscriberFolding = new SubscriberFolding(options.subscribers ?? DEFAULT_METRICS_CONFIG.subscribers);
    this.registerApplications(registry);
    registerSubscriberMetrics(registry, () => this.read().subscribers, this.subscriberFolding.limit);
    this.registerInterfaces(registry);
    this.registerBilling(registry);
  }

  /** Forgets the last reading: the next collector reads the session anew. Called before each scrape. */
  beginScrape(): void {
    this.reading = undefined;
    this.billing = undefined;
  }

  private read(): Reading {
    if (this.reading) return this.reading;
    const totals = this.source.usageTotals();
    const unknown = new Map<string, { sent: number; received: number }>();
    for (const t of totals) {
      if (t.app !== UNKNOWN_APP) continue;
      const u = unknown.get(t.interface) ?? { sent: 0, received: 0 };
      u.sent += t.sentBytes;
      u.received += t.receivedBytes;
      unknown.set(t.interface, u);
    }
    // A subscriber's traffic (--by host) is in the subscriber series, a program's in the
    // application series: together they still add up to the meter's totals.
    const programs = totals.filter((t) => t.host === undefined);
    const subscribers = totals.filter((t) => t.host !== undefined);
    this.reading = { applications: this.folding.fold(programs), subscribers: this.subscriberFolding.fold(subscribers), unknown };
    // prom-client runs every collector of one scrape before any promise settles, so the
    // reading lasts exactly that scrape even for a caller that never calls beginScrape().
    queueMicrotask(() => (this.reading = undefined));
    return this.reading;
  }

  private registerApplications(registry: Registry): void {
    const counters: Array<[string, string, 'sentBytes' | 'receivedBytes' | 'sentPackets' | 'receivedPackets']> = [
      ['netmeter_application_sent_bytes_total', 'Bytes the application sent (wire length), per user and interface; applications beyond the top N are app="other".', 'sentBytes'],
      ['netmeter_application_received_bytes_total', 'Bytes the application received (wire length), per user and interface; applications beyond the top N are app="other".', 'receivedBytes'],
      ['netmeter_application_sent_packets_total', 'Packets the application sent, per user and interface.', 'sentPackets'],
      ['netmeter_application_received_packets_total', 'Packets the application received, per user and interface.', 'receivedPackets'],
    ];
    const read = () => this.read();
    // Written as text (exposition-text.ts): 1,000 applications make 4,000 samples a scrape.
    for (const [name, help, field] of counters) registerTextCounter(registry, name, help, () => read().applications.series, (s) => s[field]);
    new Gauge({
      name: 'netmeter_applications_folded',
      help: 'Applications without series of their own: their traffic is in app="other".',
      registers: [registry],
      collect() {
        this.set(read().applications.folded);
      },
    });
    new Gauge({
      name: 'netmeter_applications_named',
      help: 'Applications given series of their own in this daemon run ("(unknown)" aside).',
      registers: [registry],
      collect() {
        this.set(read().applications.named);
      },
    });
    const limit = this.options.topApplications;
    new Gauge({
      name: 'netmeter_applications_named_limit',
      help: 'The most applications given series of their own in one daemon run (config metrics.topApplications).',
      registers: [registry],
      collect() {
        this.set(limit);
      },
    });
  }

  private registerInterfaces(registry: Registry): void {
    const source = this.source;
    const read = () => this.read();
    const perInterface = (name: string, help: string, values: () => Iterable<[string, number]>) =>
      new Counter({
        name, help, labelNames: ['interface'], registers: [registry],
        collect() {
          this.reset();
          for (const [iface, value] of values()) this.inc({ interface: iface }, value);
        },
      });
    const kernel = (field: keyof InterfaceReading['counters']) => () => source.kernelReadings().map((r): [string, number] => [r.name, r.counters[field]]);
    perInterface('netmeter_interface_kernel_received_bytes_total', 'The kernel\'s received bytes counter of the interface (/sys/class/net/IF/statistics; since the interface was created).', kernel('rxBytes'));
    perInterface('netmeter_interface_kernel_transmitted_bytes_total', 'The kernel\'s transmitted bytes counter of the interface.', kernel('txBytes'));
    perInterface('netmeter_interface_kernel_received_packets_total', 'The kernel\'s received packets counter of the interface.', kernel('rxPackets'));
    perInterface('netmeter_interface_kernel_transmitted_packets_total', 'The kernel\'s transmitted packets counter of the interface.', kernel('txPackets'));
    perInterface('netmeter_interface_kernel_receive_dropped_packets_total', 'Received packets the kernel dropped on the interface (rx_dropped).', kernel('rxDropped'));
    perInterface('netmeter_interface_kernel_transmit_dropped_packets_total', 'Packets to transmit the kernel dropped on the interface (tx_dropped).', kernel('txDropped'));

    // Every interface seen gets every series, at 0 until something is counted: a rate()
    // or a sum over interfaces then has a series to work on from the first scrape.
    const interfaces = () => {
      const names = new Set(source.meter.interfaces.keys());
      for (const r of source.kernelReadings()) names.add(r.name);
      for (const name of source.droppedPackets().keys()) names.add(name);
      return [...names];
    };
    const traffic = (map: () => ReadonlyMap<string, Traffic>, pick: (t: Traffic) => number) => () => {
      const m = map();
      return interfaces().map((iface): [string, number] => [iface, m.has(iface) ? pick(m.get(iface)!) : 0]);
    };
    const captured = () => source.meter.interfaces;
    perInterface('netmeter_interface_captured_received_bytes_total', 'Bytes captured on the interface that a local socket received (wire length; on loopback 14 per packet more than the kernel counts).', traffic(captured, (t) => t.received.bytes));
    perInterface('netmeter_interface_captured_transmitted_bytes_total', 'Bytes captured on the interface that a local socket sent (wire length).', traffic(captured, (t) => t.sent.bytes));
    perInterface('netmeter_interface_captured_received_packets_total', 'Packets captured on the interface that a local socket received.', traffic(captured, (t) => t.received.packets));
    perInterface('netmeter_interface_captured_transmitted_packets_total', 'Packets captured on the interface that a local socket sent.', traffic(captured, (t) => t.sent.packets));
    const other = () => source.meter.otherByInterface;
    perInterface('netmeter_interface_other_received_bytes_total', 'Received bytes captured on the interface that are not TCP or UDP of a socket (ARP, ICMP, fragments, ...).', traffic(other, (t) => t.received.bytes));
    perInterface('netmeter_interface_other_transmitted_bytes_total', 'Sent bytes captured on the interface that are not TCP or UDP of a socket.', traffic(other, (t) => t.sent.bytes));
    const unknown = (pick: (u: { sent: number; received: number }) => number) => () => {
      const u = read().unknown;
      return interfaces().map((iface): [string, number] => [iface, u.has(iface) ? pick(u.get(iface)!) : 0]);
    };
    perInterface('netmeter_interface_unknown_received_bytes_total', 'Received TCP/UDP bytes on the interface no process was found for (app="(unknown)").', unknown((u) => u.received));
    perInterface('netmeter_interface_unknown_transmitted_bytes_total', 'Sent TCP/UDP bytes on the interface no process was found for (app="(unknown)").', unknown((u) => u.sent));
    perInterface('netmeter_capture_dropped_packets_total', 'Packets the capture lost on the interface (the kernel\'s ring, or inside netmeter).', () => {
      const dropped = source.droppedPackets();
      return interfaces().map((iface): [string, number] => [iface, dropped.get(iface) ?? 0]);
    });

    new Gauge({
      name: 'netmeter_connections_active',
      help: 'Connection records (local sockets) in the flow table: seen within the last 5 minutes.',
      registers: [registry],
      collect() {
        this.set(source.meter.connectionCount);
      },
    });
  }

  private registerBilling(registry: Registry): void {
    const billing = this.options.billing;
    if (!billing) return;
    // One reading per scrape for all the gauges: it is a query of the history.
    const current = () => {
      if (!this.billing) {
        this.billing = { value: billing() };
        queueMicrotask(() => (this.billing = undefined));
      }
      return this.billing.value;
    };
    const gauge = (name: string, help: string, value: (b: BillingReading) => number | undefined, labelNames: string[] = [], labels: (b: BillingReading) => Record<string, string> = () => ({})) =>
      new Gauge({
        name, help, labelNames, registers: [registry],
        collect() {
          this.reset();
          const b = current();
          const v = b && value(b);
          if (b && v !== undefined) this.set(labels(b), v);
        },
      });
    gauge('netmeter_billing_period_used_bytes', 'Bytes used in the current billing period on the billed interfaces, as of the last history flush.', (b) => b.usedBytes);
    gauge('netmeter_billing_period_projected_bytes', 'Bytes the billing period will have used at its end at the rate so far.', (b) => b.projectedBytes);
    gauge('netmeter_billing_period_cost', 'What the billing period\'s bytes cost so far, in the configured currency.', (b) => b.cost, ['currency'], (b) => ({ currency: b.currency }));
    gauge('netmeter_billing_quota_bytes', 'The monthly quota (config history.quotaGB) in bytes.', (b) => b.quotaBytes);
    gauge('netmeter_billing_period_start_timestamp_seconds', 'When the current billing period began.', (b) => b.periodStart);
    gauge('netmeter_billing_period_end_timestamp_seconds', 'When the current billing period ends.', (b) => b.periodEnd);
  }
}
