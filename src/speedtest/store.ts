// Speed test results in the history database (table speed_test, see schema.ts): store one,
// read those that started in a time range. `started` is Unix seconds (UTC), like the rest
// of the history.

import type { HistoryDb } from '../history/database.js';
import type { TimeRange } from '../history/queries.js';
import type { SpeedtestResult, SpeedtestStatus } from './result.js';

export interface StoredSpeedTest {
  id: number;
  started: number;
  status: SpeedtestStatus;
  error: string | null;
  serverName: string;
  serverUrl: string;
  protocol: string | null;
  family: number | null;
  interface: string | null;
  localAddress: string | null;
  publicAddress: string | null;
  downloadMbps: number | null;
  uploadMbps: number | null;
  idleLatencyMs: number | null;
  jitterMs: number | null;
  downloadLatencyMs: number | null;
  uploadLatencyMs: number | null;
  packetLossPercent: number | null;
  bytesUsed: number;
}

export function insertSpeedTest(db: HistoryDb, result: SpeedtestResult): number {
  const info = db
    .prepare(`INSERT INTO speed_test (started, status, error, server_name, server_url, protocol, family, interface, local_address, public_address,
      download_mbps, upload_mbps, idle_latency_ms, jitter_ms, download_latency_ms, upload_latency_ms, packet_loss_percent, bytes_used, document)
      VALUES (@started, @status, @error, @serverName, @serverUrl, @protocol, @family, @interface, @localAddress, @publicAddress,
      @downloadMbps, @uploadMbps, @idleLatencyMs, @jitterMs, @downloadLatencyMs, @uploadLatencyMs, @packetLossPercent, @bytesUsed, @document)`)
    .run({
      started: Math.floor(Date.parse(result.startedAt) / 1000),
      status: result.status,
      error: result.error,
      serverName: result.server.name,
      serverUrl: result.server.url,
      protocol: result.server.protocol,
      family: result.path.family,
      interface: result.path.interface,
      localAddress: result.path.localAddress,
      publicAddress: result.path.publicAddress,
      downloadMbps: result.download?.mbps ?? null,
      uploadMbps: result.upload?.mbps ?? null,
      idleLatencyMs: result.idleLatency?.medianMs ?? null,
      jitterMs: result.idleLatency?.jitterMs ?? null,
      downloadLatencyMs: result.download?.loadedLatency.medianMs ?? null,
      uploadLatencyMs: result.upload?.loadedLatency.medianMs ?? null,
      packetLossPercent: result.packetLoss?.lossPercent ?? null,
      bytesUsed: result.bytesUsed.total,
      document: JSON.stringify(result),
    });
  return Number(info.lastInsertRowid);
}

/** Tests that started in the range, oldest first; `interface` narrows to one. */
export function querySpeedTests(db: HistoryDb, range: TimeRange, only: { interface?: string } = {}): StoredSpeedTest[] {
  return db
    .prepare<StoredSpeedTest>(`SELECT id, started, status, error, server_name AS serverName, server_url AS serverUrl, protocol, family, interface,
      local_address AS localAddress, public_address AS publicAddress, download_mbps AS downloadMbps, upload_mbps AS uploadMbps,
      idle_latency_ms AS idleLatencyMs, jitter_ms AS jitterMs, download_latency_ms AS downloadLatencyMs, upload_latency_ms AS uploadLatencyMs,
      packet_loss_percent AS packetLossPercent, bytes_used AS bytesUsed
      FROM speed_test WHERE started >= @since AND started < @until AND (@iface IS NULL OR interface = @iface) ORDER BY started, id`)
    .all({ since: range.since, until: range.until, iface: only.interface ?? null });
}

/** Bytes the speed tests used since `since` (for the schedule's per-period cap). */
export function speedTestBytesSince(db: HistoryDb, since: number): number {
  return db.prepare<{ n: number | null }>('SELECT SUM(bytes_used) AS n FROM speed_test WHERE started >= ?').get(since)?.n ?? 0;
}
