// The quality metrics read from the history at scrape time: the last complete test per
// server, the tests run since start, the plan and the open incidents — checked on the text
// Prometheus would scrape, and with promtool where it is installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { DaemonAlerts } from '../src/alerts/daemon-alerts.js';
import { parseAlertsConfig } from '../src/alerts/config.js';
import { DEFAULT_NETMETER_CONFIG } from '../src/config/config-file.js';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { registerQualityMetrics } from '../src/metrics/quality-metrics.js';
import { DEFAULT_SPEEDTEST_CONFIG } from '../src/speedtest/config.js';
import type { SpeedtestResult } from '../src/speedtest/result.js';
import { insertSpeedTest } from '../src/speedtest/store.js';
import { hasCommand } from './support/run-cli.js';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

function result(at: number, server: string, status: SpeedtestResult['status'], mbps: number | null): SpeedtestResult {
  const direction = (m: number | null, loaded: number) => ({ mbps: m, wireMbps: null, countedBytes: 0, durationMs: 1000, warmupMs: 100, streams: 4, requests: 4, stoppedBy: 'stable' as const, loadedLatency: { samples: 3, medianMs: loaded, minMs: loaded, maxMs: loaded, jitterMs: 1 } });
  return {
    version: 1, status, error: status === 'complete' ? null : 'refused', startedAt: new Date(at).toISOString(), finishedAt: new Date(at + 10_000).toISOString(),
    server: { name: server, url: server, protocol: null, address: null, chosenFrom: 'url' },
    path: { family: 4, interface: 'eth0', localAddress: '198.18.0.1', publicAddress: null },
    idleLatency: { samples: 5, medianMs: 12, minMs: 11, maxMs: 14, jitterMs: 0.8 },
    download: direction(mbps, 80), upload: direction(mbps === null ? null : 40, 120), packetLoss: null,
    bytesUsed: { received: 1, sent: 1, total: 2 },
  };
}

test('speed tests, plan and open incidents as Prometheus reads them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nm-quality-metrics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openHistoryForWriting(join(dir, 'netmeter.db'));
  t.after(() => closeHistory(db));
  let now = T0;
  insertSpeedTest(db, result(T0 - 7_200_000, 'http://198.18.0.2/', 'complete', 80)); // before the daemon started
  const registry = new Registry();
  registerQualityMetrics(registry, { db, speedtest: () => ({ ...DEFAULT_SPEEDTEST_CONFIG, planDownloadMbps: 100, planUploadMbps: 40 }), now: () => now });
  insertSpeedTest(db, result(T0 - 3_600_000, 'http://198.18.0.2/', 'complete', 95.5));
  insertSpeedTest(db, result(T0 - 1_800_000, 'http://198.18.0.3/', 'failed', null));
  // An open incident, as the daemon's alerts record it (the judged result is stored by the scheduler, not here).
  const alerts = parseAlertsConfig({ detectors: [{ type: 'speed', direction: 'download', below: { mbps: 50 }, confirm: { bad: 1, of: 1, retests: 0, recoverAfter: 1 } }] }, 'test: alerts');
  const daemon = new DaemonAlerts({ db, config: () => ({ ...DEFAULT_NETMETER_CONFIG, alerts }), log: () => {}, now: () => now, retest: () => {}, interfaceIsUp: () => true });
  daemon.speedResult(result(T0 - 600_000, 'http://198.18.0.2/', 'complete', 20), false);
  now = T0;

  const text = await registry.metrics();
  const line = (name: string) => text.split('\n').find((l) => l.startsWith(name))?.split(' ').at(-1);
  assert.equal(line('netmeter_speedtest_download_bytes_per_second{server="http://198.18.0.2/"}'), String(95.5e6 / 8), 'the last complete test of the server');
  assert.equal(line('netmeter_speedtest_upload_bytes_per_second{server="http://198.18.0.2/"}'), '5000000');
  assert.equal(line('netmeter_speedtest_latency_seconds{server="http://198.18.0.2/"}'), '0.012');
  assert.equal(line('netmeter_speedtest_loaded_latency_seconds{server="http://198.18.0.2/"}'), '0.12');
  assert.equal(line('netmeter_speedtest_download_bytes_per_second{server="http://198.18.0.3/"}'), undefined, 'a server that only failed has no figures');
  assert.equal(line('netmeter_speedtest_runs_total{status="complete"}'), '1', 'the complete tests since start, not the one before');
  assert.equal(line('netmeter_speedtest_runs_total{status="failed"}'), '1');
  assert.equal(line('netmeter_plan_download_bytes_per_second'), '12500000');
  assert.equal(line('netmeter_alerts_incidents_open{detector="speed-download"}'), '1');
  if (hasCommand('promtool')) {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal(check.stdout + check.stderr, '', 'promtool has no remark');
  }
});
