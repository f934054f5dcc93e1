// Reading the history: traffic per application, user, interface or period over a time
// range, and the kernel's interface counters over one. Each query sums the minute, hour
// and day tables (a byte is in exactly one of them) and leaves formatting to others.

import type { HistoryDb } from './database.js';
import type { UsageCounts } from './usage-key.js';
import { LOOPBACK } from './billing.js';
import { RESOLUTIONS } from './schema.js';

export type Dimension = 'app' | 'user' | 'host' | 'interface' | 'day' | 'hour' | 'month';
export const DIMENSIONS: readonly Dimension[] = ['app', 'user', 'host', 'interface', 'day', 'hour', 'month'];

export interface TimeRange {
  /** First second included (Unix time). */
  since: number;
  /** First second no longer included. */
  until: number;
}

export interface UsageFilter {
  /** Only this application (program name). */
  app?: string;
  /** Only traffic captured on this interface. */
  interface?: string;
}

export interface UsageRow extends UsageCounts {
  /** Sent + received on the billed interfaces (billing.ts's isBilledInterface): what a price applies to. */
  billedBytes: number;
  app?: string;
  exe?: string;
  user?: string;
  /** The subscriber (daemon --by host); '' for traffic of no subscriber. */
  host?: string;
  interface?: string;
  /** Start of the day, hour or month (local), for those dimensions. */
  start?: number;
}

export interface InterfaceRow {
  interface: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

const GROUPS: Record<Dimension, { select: string; group: string }> = {
  app: { select: 's.app AS app, s.exe AS exe', group: 's.app, s.exe' },
  user: { select: 's.user AS user', group: 's.user' },
  host: { select: 's.host AS host', group: 's.host' },
  interface: { select: 's.interface AS interface', group: 's.interface' },
  day: { select: 'nm_day(u.start) AS start', group: '1' },
  hour: { select: 'nm_hour(u.start) AS start', group: '1' },
  month: { select: 'nm_month(u.start) AS start', group: '1' },
};

/**
 * Rows whose period starts in the range count in it: a day row counts whole in the day it
 * starts, so ranges finer than the rows' resolution (an hour of last year) are approximate.
 */
const unionOf = (table: 'usage' | 'kernel', columns: string) =>
  RESOLUTIONS.map((r) => `SELECT start, ${columns} FROM ${table}_${r} WHERE start >= @since AND start < @until`).join(' UNION ALL ');

/**
 * `billed`: the config's list of billed interfaces, or undefined for the default (every
 * interface but loopback) — the SQL twin of billing.ts's isBilledInterface.
 */
export function queryUsage(db: HistoryDb, range: TimeRange, by: Dimension, filter: UsageFilter = {}, billed?: readonly string[]): UsageRow[] {
  const { select, group } = GROUPS[by];
  const sql = `
    WITH u AS (${unionOf('usage', 'series, sent_bytes, received_bytes, sent_packets, received_packets')})
    SELECT ${select},
      SUM(u.sent_bytes) AS sentBytes, SUM(u.received_bytes) AS receivedBytes,
      SUM(u.sent_packets) AS sentPackets, SUM(u.received_packets) AS receivedPackets,
      SUM(CASE WHEN (@billed IS NULL AND s.interface <> '${LOOPBACK}') OR s.interface IN (SELECT value FROM json_each(@billed))
          THEN u.sent_bytes + u.received_bytes ELSE 0 END) AS billedBytes
    FROM u JOIN series s ON s.id = u.series
    WHERE (@app IS NULL OR s.app = @app) AND (@interface IS NULL OR s.interface = @interface)
    GROUP BY ${group}`;
  return db
    .prepare<UsageRow>(sql)
    .all({ ...range, app: filter.app ?? null, interface: filter.interface ?? null, billed: billed === undefined ? null : JSON.stringify(billed) });
}

/** The kernel's counters per interface over the range. */
export function queryInterfaces(db: HistoryDb, range: TimeRange, only?: string): InterfaceRow[] {
  const sql = `
    WITH k AS (${unionOf('kernel', 'interface, rx_bytes, tx_bytes, rx_packets, tx_packets')})
    SELECT interface, SUM(rx_bytes) AS rxBytes, SUM(tx_bytes) AS txBytes, SUM(rx_packets) AS rxPackets, SUM(tx_packets) AS txPackets
    FROM k WHERE (@only IS NULL OR interface = @only) GROUP BY interface ORDER BY interface`;
  return db.prepare<InterfaceRow>(sql).all({ ...range, only: only ?? null });
}

