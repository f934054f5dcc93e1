// The connection's quality for Prometheus, read from the history at scrape time (rates in
// bytes per second, the base unit promtool asks for; Mbit/s × 125,000): the last
// complete speed test per server (download, upload, latency idle and under load, jitter),
// the tests run and failed, the subscribed plan, and the open incidents per detector — what
// docs/fleet/rules.yml compares across the fleet.

import { Counter, Gauge, type Registry } from 'prom-client';
import { AlertOutbox } from '../alerts/outbox.js';
import type { HistoryDb } from '../history/database.js';
import type { SpeedtestConfig } from '../speedtest/config.js';
import { querySpeedTests, type StoredSpeedTest } from '../speedtest/store.js';

/** Results older than this are not shown as the server's current figures. */
const RECENT_SECONDS = 30 * 86_400;

export interface QualitySources {
  db: HistoryDb;
  speedtest: () => SpeedtestConfig;
  /** Wall clock, milliseconds. */
  now: () => number;
}

export function registerQualityMetrics(registry: Registry, sources: QualitySources): void {
  let tests: StoredSpeedTest[] = [];
  const read = () => {
    const now = Math.floor(sources.now() / 1000);
    tests = querySpeedTests(sources.db, { since: now - RECENT_SECONDS, until: now + 1 });
  };
  const latest = () => {
    const byServer = new Map<string, StoredSpeedTest>();
    for (const t of tests) if (t.status === 'complete') byServer.set(t.serverUrl, t);
    return byServer;
  };
  const perServer = (name: string, help: string, value: (t: StoredSpeedTest) => number | null, first = false) =>
    new Gauge({
      name,
      help,
      labelNames: ['server'],
      registers: [registry],
      collect() {
        // The first gauge read of a scrape reads the history once for all of them.
        if (first) read();
        this.reset();
        for (const [server, t] of latest()) {
          const v = value(t);
          if (v !== null) this.set({ server }, v);
        }
      },
    });
  perServer('netmeter_speedtest_download_bytes_per_second', 'Download goodput of the last complete speed test against the server.', (t) => (t.downloadMbps === null ? null : (t.downloadMbps * 1e6) / 8), true);
  perServer('netmeter_speedtest_upload_bytes_per_second', 'Upload goodput (bytes the server acknowledged) of the last complete speed test.', (t) => (t.uploadMbps === null ? null : (t.uploadMbps * 1e6) / 8));
  perServer('netmeter_speedtest_latency_seconds', 'Idle round trip (median) of the last complete speed test.', (t) => (t.idleLatencyMs === null ? null : t.idleLatencyMs / 1000));
  perServer('netmeter_speedtest_jitter_seconds', 'Idle jitter of the last complete speed test.', (t) => (t.jitterMs === null ? null : t.jitterMs / 1000));
  perServer('netmeter_speedtest_loaded_latency_seconds', 'Round trip under load (the larger of download and upload) of the last complete speed test.', (t) => {
    const loaded = [t.downloadLatencyMs, t.uploadLatencyMs].filter((v): v is number => v !== null);
    return loaded.length === 0 ? null : Math.max(...loaded) / 1000;
  });

  // Counters only grow: each scrape adds the tests stored since the last one, from the
  // daemon's start on (a restart is a counter reset, as Prometheus expects).
  read();
  const seen = new Set<number>(tests.map((t) => t.id));
  new Counter({
    name: 'netmeter_speedtest_runs_total',
    help: 'Speed tests stored since the daemon started, by status (complete, partial, failed).',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      for (const t of tests) {
        if (seen.has(t.id)) continue;
        seen.add(t.id);
        this.inc({ status: t.status });
      }
    },
  });
  const plan = (name: string, help: string, value: (c: SpeedtestConfig) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const mbps = value(sources.speedtest());
        if (mbps !== undefined) this.set((mbps * 1e6) / 8);
      },
    });
  plan('netmeter_plan_download_bytes_per_second', 'The subscribed download rate (speedtest.planDownloadMbps).', (c) => c.planDownloadMbps);
  plan('netmeter_plan_upload_bytes_per_second', 'The subscribed upload rate (speedtest.planUploadMbps).', (c) => c.planUploadMbps);

  new Gauge({
    name: 'netmeter_alerts_incidents_open',
    help: 'Incidents open now, by detector (netmeter alerts lists them).',
    labelNames: ['detector'],
    registers: [registry],
    collect() {
      this.reset();
      const open = new Map<string, number>();
      for (const incident of new AlertOutbox(sources.db).incidents({ open: true })) open.set(incident.detector, (open.get(incident.detector) ?? 0) + 1);
      for (const [detector, n] of open) this.set({ detector }, n);
    },
  });
}
