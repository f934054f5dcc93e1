// The daemon's side of the exporter: where to serve (--metrics beats the config's
// metrics.listen), checked before the daemon opens anything; then the server with the
// session's metrics and the billing period from the history database.

import type { SpeedtestConfig } from '../speedtest/config.js';
import { registerQualityMetrics } from './quality-metrics.js';
import { queryInterfaces, queryUsage } from '../history/queries.js';
import { billedInterfaces, computeBilling, hasBilling } from '../history/billing.js';
import type { HistoryConfig } from '../history/config.js';
import type { HistoryDb } from '../history/database.js';
import { ConfigError } from '../history/config.js';
import { UsageError } from '../cli/usage-error.js';
import type { NetmeterConfig } from '../config/config-file.js';
import { parseListenAddress, type SubscriberMetricsConfig } from './metrics-config.js';
import { MetricsServer, planMetricsServer, type MetricsServerPlan } from './metrics-server.js';
import { SessionMetrics, type BillingReading, type SessionMetricsSource } from './session-metrics.js';

/** What --metrics and the config ask for; undefined when neither does. Reads the auth and TLS files now. */
export function planDaemonMetrics(flag: string | undefined, config: NetmeterConfig): MetricsServerPlan | undefined {
  let listen = config.metrics.listen;
  if (flag !== undefined) {
    try {
      listen = parseListenAddress(flag, '--metrics');
    } catch (error) {
      throw new UsageError((error as ConfigError).message, 'daemon');
    }
  }
  if (!listen) return undefined;
  return planMetricsServer(listen, config.metrics, `config ${config.path ?? '(defaults)'}`);
}

export interface DaemonMetricsSources {
  session: SessionMetricsSource;
  db: HistoryDb;
  history: () => HistoryConfig;
  speedtest: () => SpeedtestConfig;
  topApplications: number;
  subscribers?: SubscriberMetricsConfig;
  /** Wall clock, milliseconds. */
  now: () => number;
}

/** Starts serving; a port taken or an address not here is a one-line MetricsServeError. */
export async function startDaemonMetrics(plan: MetricsServerPlan, sources: DaemonMetricsSources): Promise<MetricsServer> {
  const server = new MetricsServer(plan);
  const metrics = new SessionMetrics(sources.session, server.registry, {
    topApplications: sources.topApplications,
    ...(sources.subscribers ? { subscribers: sources.subscribers } : {}),
    billing: () => {
      try {
        return billingReading(sources.db, sources.history(), Math.floor(sources.now() / 1000));
      } catch {
        // A database busy or failing now: this scrape goes without the billing gauges rather
        // than failing whole (the daemon's flushes say what is wrong with the database).
        return undefined;
      }
    },
  });
  server.onScrape(() => metrics.beginScrape());
  registerQualityMetrics(server.registry, { db: sources.db, speedtest: sources.speedtest, now: sources.now });
  await server.listen();
  return server;
}

/**
 * The billing period as `netmeter report` computes it (report-document.ts's billing
 * summary): the kernel counters of the billed interfaces, else the captured traffic on them.
 */
export function billingReading(db: HistoryDb, config: HistoryConfig, now: number): BillingReading | undefined {
  if (!hasBilling(config)) return undefined;
  const probe = computeBilling(config, 0, now);
  const period = { since: probe.periodStart, until: Math.min(probe.periodEnd, now + 1) };
  const kernel = queryInterfaces(db, period);
  let used: number;
  if (kernel.length > 0) {
    const billed = billedInterfaces(config, kernel.map((k) => k.interface));
    used = kernel.filter((k) => billed.includes(k.interface)).reduce((sum, k) => sum + k.rxBytes + k.txBytes, 0);
  } else {
    const captured = queryUsage(db, period, 'interface');
    const billed = billedInterfaces(config, captured.map((c) => c.interface!));
    used = captured.filter((c) => billed.includes(c.interface!)).reduce((sum, c) => sum + c.sentBytes + c.receivedBytes, 0);
  }
  const b = computeBilling(config, used, now);
  return {
    usedBytes: b.usedBytes,
    projectedBytes: b.projectedBytes,
    currency: b.currency,
    periodStart: b.periodStart,
    periodEnd: b.periodEnd,
    ...(b.cost !== undefined ? { cost: b.cost } : {}),
    ...(b.projectedCost !== undefined ? { projectedCost: b.projectedCost } : {}),
    ...(b.quotaBytes !== undefined ? { quotaBytes: b.quotaBytes } : {}),
  };
}
