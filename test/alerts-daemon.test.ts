// The daemon's side of the alerts: a speed test result as the engine judges it, and a bad
// run over an interface that is down set aside instead of blamed on the provider.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonAlerts, measurementOf } from '../src/alerts/daemon-alerts.js';
import { parseAlertsConfig } from '../src/alerts/config.js';
import { AlertOutbox } from '../src/alerts/outbox.js';
import { DEFAULT_NETMETER_CONFIG, type NetmeterConfig } from '../src/config/config-file.js';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import type { SpeedtestResult } from '../src/speedtest/result.js';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

function result(at: number, mbps: number, over: Partial<SpeedtestResult> = {}): SpeedtestResult {
  const direction = (m: number | null, loaded: number) => ({ mbps: m, wireMbps: null, countedBytes: 0, durationMs: 1000, warmupMs: 100, streams: 4, requests: 4, stoppedBy: 'stable' as const, loadedLatency: { samples: 3, medianMs: loaded, minMs: loaded, maxMs: loaded, jitterMs: 1 } });
  return {
    version: 1, status: 'complete', error: null, startedAt: new Date(at).toISOString(), finishedAt: new Date(at + 10_000).toISOString(),
    server: { name: 's', url: 'http://198.18.0.2/', protocol: 'netmeter' as never, address: '198.18.0.2', chosenFrom: 'url' },
    path: { family: 4, interface: 'eth0', localAddress: '198.18.0.1', publicAddress: null },
    idleLatency: { samples: 5, medianMs: 12, minMs: 11, maxMs: 14, jitterMs: 0.8 },
    download: direction(mbps, 80), upload: direction(40, 120), packetLoss: null,
    bytesUsed: { received: 1, sent: 1, total: 2 },
    ...over,
  };
}

test('a result becomes the measurement the engine judges', () => {
  const m = measurementOf(result(T0, 95.5, { contention: { otherBytes: 10, share: 0.2, contended: true } }), true);
  assert.deepEqual(m, { at: T0, server: 'http://198.18.0.2/', family: 'ipv4', failed: false, contended: true, retest: true, interface: 'eth0', downloadMbps: 95.5, uploadMbps: 40, latencyMs: 12, jitterMs: 0.8, loadedLatencyMs: 120 });
  assert.equal(measurementOf(result(T0, 0, { status: 'failed', download: null, path: { family: 6, interface: null, localAddress: null, publicAddress: null } }), false).failed, true);
});

test('bad results over an interface that is down open no incident; the same over one that is up do', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nm-daemon-alerts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const up of [false, true]) {
    const db = openHistoryForWriting(join(dir, `${up}.db`));
    const alerts: NetmeterConfig['alerts'] = parseAlertsConfig({
      connections: [{ name: 'home', interface: 'eth0', downloadMbps: 100 }],
      detectors: [{ type: 'speed', direction: 'download', below: { planShare: 0.5 }, confirm: { bad: 2, of: 3, retests: 0, recoverAfter: 1 } }],
    }, 'test: alerts');
    const config = { ...DEFAULT_NETMETER_CONFIG, alerts };
    let now = T0;
    const daemon = new DaemonAlerts({ db, config: () => config, log: () => {}, now: () => now, retest: () => {}, interfaceIsUp: () => up });
    for (let i = 0; i < 4; i++) {
      now = T0 + i * 3_600_000;
      daemon.speedResult(result(now, 20), false);
    }
    const open = new AlertOutbox(db).incidents({ open: true });
    assert.equal(open.length, up ? 1 : 0, up ? 'the provider is told' : 'a link that is down is not the provider\'s');
    closeHistory(db);
  }
});
