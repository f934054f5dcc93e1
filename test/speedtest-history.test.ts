// Speed test results in the history: the new migration's table, storing and reading by
// time range, and `report --speed` as JSON, table, CSV and bars — with shares of the plan
// (per interface where it differs) for complete tests only; partial and failed tests are
// listed but never counted as measurements. Ends with the CLI: speedtest --db, then report.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeHistory, openHistoryForReading, openHistoryForWriting } from '../src/history/database.js';
import { SCHEMA_VERSION, schemaVersion } from '../src/history/schema.js';
import { insertSpeedTest, querySpeedTests, speedTestBytesSince } from '../src/speedtest/store.js';
import { buildSpeedReport, renderSpeedCsv, renderSpeedTable, type SpeedReport } from '../src/speedtest/speed-report.js';
import { parseSpeedtestConfig } from '../src/speedtest/config.js';
import { startSpeedtestServer } from '../src/speedtest/server.js';
import type { SpeedtestResult, SpeedtestStatus } from '../src/speedtest/result.js';
import { latencyFigures } from '../src/speedtest/result.js';
import { runCli } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';
import { refusedPort } from './support/speedtest-stand-ins.js';

const T0 = Date.UTC(2026, 2, 1, 10, 0, 0); // 2026-03-01 10:00 UTC

function result(at: number, status: SpeedtestStatus, down: number | null, up: number | null, iface: string): SpeedtestResult {
  const direction = (mbps: number | null) => (mbps === null ? null : { mbps, wireMbps: null, countedBytes: 1e6, durationMs: 2000, warmupMs: 600, streams: 4, requests: 9, stoppedBy: 'stable' as const, loadedLatency: latencyFigures([30, 32]) });
  return {
    version: 1,
    status,
    error: status === 'complete' ? null : 'x.example answered HTTP 500 to GET /garbage.php',
    startedAt: new Date(at).toISOString(),
    finishedAt: new Date(at + 20_000).toISOString(),
    server: { name: 'test point', url: 'http://198.18.0.1/', protocol: 'librespeed', address: '198.18.0.1', chosenFrom: 'url' },
    path: { family: 4, interface: iface, localAddress: '198.18.0.2', publicAddress: '198.18.0.2' },
    idleLatency: latencyFigures([10, 12, 11]),
    download: direction(down),
    upload: direction(up),
    packetLoss: { sent: 100, received: 99, lossPercent: 1 },
    bytesUsed: { received: 3e6, sent: 1e6, total: 4e6 },
  };
}

test('the speed_test table comes with a new migration step; results are stored and read back by range and interface', () => {
  const dir = tempDir('speed-history');
  try {
    const path = join(dir.dir, 'h.db');
    const db = openHistoryForWriting(path);
    assert.equal(schemaVersion(db), SCHEMA_VERSION);
    assert.ok(SCHEMA_VERSION >= 2, 'appended after the usage tables');
    insertSpeedTest(db, result(T0, 'complete', 90, 18, 'eth0'));
    insertSpeedTest(db, result(T0 + 3600e3, 'failed', null, null, 'eth0'));
    insertSpeedTest(db, result(T0 + 86400e3, 'complete', 40, 10, 'wlan0'));
    const since = T0 / 1000;
    assert.equal(querySpeedTests(db, { since, until: since + 86400 }).length, 2);
    assert.deepEqual(querySpeedTests(db, { since, until: since + 2 * 86400 }, { interface: 'wlan0' }).map((t) => t.downloadMbps), [40]);
    const first = querySpeedTests(db, { since, until: since + 1 })[0]!;
    assert.deepEqual({ ...first, id: 0 }, {
      id: 0, started: since, status: 'complete', error: null, serverName: 'test point', serverUrl: 'http://198.18.0.1/', protocol: 'librespeed', family: 4, interface: 'eth0',
      localAddress: '198.18.0.2', publicAddress: '198.18.0.2', downloadMbps: 90, uploadMbps: 18, idleLatencyMs: 11, jitterMs: 1.5, downloadLatencyMs: 31, uploadLatencyMs: 31,
      packetLossPercent: 1, bytesUsed: 4e6,
    });
    assert.equal(speedTestBytesSince(db, since + 1), 8e6, 'the failed test\'s bytes count toward the cap too');
    closeHistory(db);
    closeHistory(openHistoryForReading(path));
  } finally {
    dir.remove();
  }
});

test('report --speed: plan shares for complete tests (per-interface plan wins), medians of complete tests only; table, CSV, bars', () => {
  const dir = tempDir('speed-report');
  try {
    const db = openHistoryForWriting(join(dir.dir, 'h.db'));
    insertSpeedTest(db, result(T0, 'complete', 90, 18, 'eth0'));
    insertSpeedTest(db, result(T0 + 60e3, 'partial', 5, null, 'eth0'));
    insertSpeedTest(db, result(T0 + 120e3, 'complete', 40, 10, 'wlan0'));
    insertSpeedTest(db, result(T0 + 180e3, 'failed', null, null, 'eth0'));
    const config = parseSpeedtestConfig({ planDownloadMbps: 100, planUploadMbps: 20, interfaces: { wlan0: { planDownloadMbps: 50 } } }, 'config t.json');
    const report: SpeedReport = buildSpeedReport(db, { since: T0 / 1000, until: T0 / 1000 + 3600, label: 'test' }, config);
    closeHistory(db);
    assert.deepEqual(report.tests.map((t) => [t.status, t.downloadPlanPercent, t.uploadPlanPercent]), [
      ['complete', 90, 90],
      ['partial', null, null],
      ['complete', 80, 50], // wlan0: its own download plan, the top-level upload plan
      ['failed', null, null],
    ]);
    assert.deepEqual(report.summary, { complete: 2, partial: 1, failed: 1, medianDownloadMbps: 65, medianUploadMbps: 14 });
    assert.equal(report.tests[0]!.startedAt, '2026-03-01T10:00:00Z');

    const table = renderSpeedTable(report, { graph: false, width: 100 }).split('\n');
    assert.equal(table[0], 'Speed tests, test: 2 complete, 1 partial, 1 failed');
    assert.match(table[1]!, /^TIME\s+STATUS\s+SERVER\s+IF\s+DOWN Mbit\/s\s+UP Mbit\/s\s+IDLE ms\s+LOADED ms ↓\/↑\s+LOSS %\s+DATA$/);
    assert.match(table[2]!, /complete\s+test point\s+eth0\s+90\.0 \(90%\)\s+18\.0 \(90%\)\s+11\.0\s+31\.0\/31\.0\s+1\s+3\.81 MiB$/);
    assert.ok(table.includes('median of complete tests: down 65.0 Mbit/s, up 14.0 Mbit/s'));
    assert.ok(table.some((l) => l.endsWith('partial: x.example answered HTTP 500 to GET /garbage.php')));

    const graph = renderSpeedTable(report, { graph: true, width: 100 }).split('\n');
    const bars = (line: string, fill: string) => [...line].filter((c) => c === fill).length;
    // Bars of (100 - 40) / 2 = 30 cells for the fastest, 90 Mbit/s.
    assert.equal(bars(graph[1]!, '▓'), 30);
    assert.equal(bars(graph[1]!, '░'), 6);
    assert.match(graph[2]!, /\(partial\)$/);
    assert.equal(bars(graph[3]!, '▓'), 13);

    const csv = renderSpeedCsv(report).trim().split('\n');
    assert.equal(csv.length, 5);
    assert.equal(csv[0], 'startedAt,status,serverName,serverUrl,protocol,family,interface,localAddress,publicAddress,downloadMbps,uploadMbps,idleLatencyMs,jitterMs,downloadLatencyMs,uploadLatencyMs,packetLossPercent,bytesUsed,downloadPlanPercent,uploadPlanPercent,error');
    assert.equal(csv[1], '2026-03-01T10:00:00Z,complete,test point,http://198.18.0.1/,librespeed,4,eth0,198.18.0.2,198.18.0.2,90,18,11,1.5,31,31,1,4000000,90,90,');
  } finally {
    dir.remove();
  }
});

test('CLI: speedtest --db stores complete and failed runs with their status; report --speed lists them', async () => {
  const dir = tempDir('speed-cli-db');
  const server = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false });
  try {
    const db = join(dir.dir, 'h.db');
    const ok = await runCli(['speedtest', `http://127.0.0.1:${server.address.port}/`, '--db', db, '--no-upload', '--max-time', '0.3s', '--pings', '2']);
    assert.equal(ok.code, 0, ok.stderr);
    const refused = await refusedPort();
    const bad = await runCli(['speedtest', `http://127.0.0.1:${refused}/`, '--db', db]);
    assert.equal(bad.code, 1);
    const json = await runCli(['report', '--speed', '--db', db, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as SpeedReport;
    assert.deepEqual(report.tests.map((t) => t.status), ['complete', 'failed']);
    assert.equal(report.summary.complete, 1);
    assert.ok(report.tests[0]!.downloadMbps! > 0);
    assert.equal(report.tests[1]!.downloadMbps, null);
    const csv = await runCli(['report', '--speed', '--db', db, '--csv']);
    assert.equal(csv.stdout.trim().split('\n').length, 3);
    const graph = await runCli(['report', '--speed', '--db', db, '--graph']);
    assert.equal(graph.code, 0, graph.stderr);
    assert.match(graph.stdout, /▓/);
    const misuse = await runCli(['report', '--speed', '--by', 'app', '--db', db]);
    assert.equal(misuse.code, 2);
  } finally {
    await server.close();
    dir.remove();
  }
});
