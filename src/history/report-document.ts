// The history report as data: rows for the chosen range and dimension with totals, the
// kernel's interface counters over the range, and the billing period's cost and quota.
// The table, CSV and JSON outputs are all drawn from this one shape (version 1).

import type { HistoryDb } from './database.js';
import { addDays, addHours, addMonths, dayStart, formatDay, formatHour, formatLocal, formatMonth, hourStart, monthStart } from './calendar.js';
import { queryInterfaces, queryUsage, type Dimension, type InterfaceRow, type TimeRange, type UsageFilter, type UsageRow } from './queries.js';
import { billedInterfaces, computeBilling, costOf, hasBilling, isBilledInterface, leftOutText, type Billing } from './billing.js';
import type { HistoryConfig } from './config.js';
import { addCounts, zeroCounts, type UsageCounts, type UserNameOf } from './usage-key.js';
import { joinNumericUsers, joinPathlessPrograms } from './owner-joins.js';
import { UserNames } from '../attribute/proc/user-names.js';
import { subscriberBilling, type SubscriberBilling } from './subscriber-billing.js';

function systemUserName(): UserNameOf {
  const users = new UserNames();
  return (uid) => users.name(uid);
}

export interface ReportRequest {
  range: TimeRange & { label: string };
  by: Dimension;
  filter: UsageFilter;
  /** Only the N largest rows (totals still cover all). */
  top?: number;
  /** Seconds since the epoch: "today", the billing period and the graph's last bar. */
  now: number;
  config: HistoryConfig;
  /** Where the config is (or would be) read: the place a note tells to change. */
  configPath?: string;
  /** uid → user name, for users recorded by uid; default /etc/passwd's. */
  userName?: UserNameOf;
}

export interface ReportRow extends UsageCounts {
  app?: string;
  exe?: string | null;
  user?: string | null;
  /** By host: the subscriber; null for traffic of no subscriber (a program's, or unknown). */
  host?: string | null;
  interface?: string;
  day?: string;
  hour?: string;
  month?: string;
  totalBytes: number;
  /** With a price: the bytes of totalBytes on billed interfaces, which `cost` prices. */
  billedBytes?: number;
  cost?: number;
}

/** What the cost column prices: each row's captured bytes on these interfaces. */
export interface CostBasis {
  source: 'capture';
  /** The billed interfaces the range's traffic was captured on. */
  interfaces: string[];
  /** Interfaces with traffic in the range that are not billed, why, and how to bill them. */
  note?: string;
}

export interface BillingSummary extends Omit<Billing, 'periodStart' | 'periodEnd'> {
  /** First and last day of the period (local dates). */
  periodStart: string;
  periodEnd: string;
  /** What the bytes are: the kernel's counters of the billed interfaces, or — when none were recorded — the captured traffic on them. */
  source: 'kernel' | 'capture';
  interfaces: string[];
  /** Interfaces recorded in the period that are not billed, why, and how to bill them. */
  note?: string;
}

export interface HistoryReport {
  version: 1;
  database: string;
  range: { label: string; since: string | null; until: string | null; timeZone: string };
  by: Dimension;
  rows: ReportRow[];
  /** Rows left out by --top. */
  omittedRows: number;
  totals: UsageCounts & { totalBytes: number; billedBytes?: number; cost?: number };
  /** With a price: what the cost column prices. */
  costBasis?: CostBasis;
  /** The kernel's counters over the range, per interface. */
  interfaces: Array<InterfaceRow & { totalBytes: number }>;
  billing?: BillingSummary;
  /** By host, with the history setting "subscribers": each planned subscriber's billing period. */
  subscriberBilling?: SubscriberBilling[];
}

const TIME_DIMENSIONS: ReadonlySet<Dimension> = new Set(['day', 'hour', 'month']);
/** Empty periods are filled in up to this many rows (a graph of a year of days), no further. */
const MAX_FILLED_ROWS = 2000;
export const OPEN_START = 0;
export const OPEN_END = 2 ** 42;

export function buildHistoryReport(db: HistoryDb, database: string, request: ReportRequest): HistoryReport {
  const { range, by, config } = request;
  const price = config.pricePerGB;
  let found = queryUsage(db, range, by, request.filter, config.interfaces);
  if (by === 'app') found = joinPathlessPrograms(found);
  if (by === 'user') found = joinNumericUsers(found, request.userName ?? systemUserName());
  let rows = found.map((r) => toReportRow(r, by, price));
  const totals = { ...zeroCounts(), totalBytes: 0 } as HistoryReport['totals'];
  for (const row of rows) addCounts(totals, row);
  totals.totalBytes = totals.sentBytes + totals.receivedBytes;
  if (price !== undefined) {
    totals.billedBytes = rows.reduce((sum, r) => sum + (r.billedBytes ?? 0), 0);
    totals.cost = costOf(totals.billedBytes, price);
  }

  if (TIME_DIMENSIONS.has(by)) rows = fillPeriods(rows, by, range, request.now, price);
  let omittedRows = 0;
  if (request.top !== undefined && rows.length > request.top) {
    omittedRows = rows.length - request.top;
    rows = [...rows].sort(byTotal).slice(0, request.top);
  } else if (!TIME_DIMENSIONS.has(by)) {
    rows.sort(byTotal);
  }

  const report: HistoryReport = {
    version: 1,
    database,
    range: {
      label: range.label,
      since: range.since <= OPEN_START ? null : formatLocal(range.since),
      until: range.until >= OPEN_END ? null : formatLocal(range.until),
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    },
    by,
    rows,
    omittedRows,
    totals,
    interfaces: queryInterfaces(db, range, request.filter.interface).map((i) => ({ ...i, totalBytes: i.rxBytes + i.txBytes })),
  };
  const configPath = request.configPath ?? 'the config file';
  if (price !== undefined) report.costBasis = costBasis(db, range, request.filter, config, configPath);
  if (hasBilling(config)) report.billing = billingSummary(db, config, request.now, configPath);
  if (by === 'host' && config.subscribers) report.subscriberBilling = subscriberBilling(db, config, request.now);
  return report;
}

function toReportRow(row: UsageRow, by: Dimension, price: number | undefined): ReportRow {
  const out: ReportRow = { sentBytes: row.sentBytes, receivedBytes: row.receivedBytes, totalBytes: row.sentBytes + row.receivedBytes, sentPackets: row.sentPackets, receivedPackets: row.receivedPackets };
  const withLabel: ReportRow = (() => {
    switch (by) {
      case 'app':
        return { app: row.app!, exe: row.exe || null, ...out };
      case 'user':
        return { user: row.user || null, ...out };
      case 'host':
        return { host: row.host || null, ...out };
      case 'interface':
        return { interface: row.interface!, ...out };
      default:
        return { ...periodLabel(by, row.start!), ...out };
    }
  })();
  if (price !== undefined) {
    withLabel.billedBytes = row.billedBytes;
    withLabel.cost = costOf(row.billedBytes, price);
  }
  return withLabel;
}

function periodLabel(by: Dimension, start: number): Pick<ReportRow, 'day' | 'hour' | 'month'> {
  return by === 'day' ? { day: formatDay(start) } : by === 'hour' ? { hour: formatHour(start) } : { month: formatMonth(start) };
}

const byTotal = (a: ReportRow, b: ReportRow) => b.totalBytes - a.totalBytes || labelOf(a).localeCompare(labelOf(b));

export function labelOf(row: ReportRow): string {
  return row.app ?? row.user ?? row.host ?? row.interface ?? row.day ?? row.hour ?? row.month ?? '';
}

/**
 * Periods in order with the empty ones filled in, so a graph shows a quiet day as a gap —
 * from the later of the range's start and the first period with traffic, to the earlier
 * of the range's end and now.
 */
function fillPeriods(rows: ReportRow[], by: Dimension, range: TimeRange, now: number, price: number | undefined): ReportRow[] {
  const startOf = by === 'day' ? dayStart : by === 'hour' ? hourStart : monthStart;
  const next = (t: number) => (by === 'day' ? addDays(t, 1) : by === 'hour' ? addHours(t, 1) : addMonths(t, 1));
  if (rows.length === 0) return [];
  // Two periods can share a label (the hour the clocks repeat in autumn): they become one row.
  const found = new Map<string, ReportRow>();
  for (const row of rows) {
    const same = found.get(labelOf(row));
    if (!same) {
      found.set(labelOf(row), row);
      continue;
    }
    addCounts(same, row);
    same.totalBytes += row.totalBytes;
    if (same.billedBytes !== undefined && row.billedBytes !== undefined) same.billedBytes += row.billedBytes;
    if (same.cost !== undefined && row.cost !== undefined) same.cost += row.cost;
  }
  const labels = [...found.keys()].sort();
  const first = parseLabelStart(labels[0]!, by);
  const from = Math.max(startOf(Math.max(range.since, OPEN_START)), first);
  const to = Math.min(range.until - 1, Math.max(now, parseLabelStart(labels[labels.length - 1]!, by)));
  const filled: ReportRow[] = [];
  for (let t = from; t <= to && filled.length < MAX_FILLED_ROWS; t = next(t)) {
    const label = periodLabel(by, t);
    const existing = found.get(label.day ?? label.hour ?? label.month!);
    filled.push(existing ?? { ...label, ...zeroCounts(), totalBytes: 0, ...(price !== undefined ? { billedBytes: 0, cost: 0 } : {}) });
  }
  // Rows the walk could not reach (over the limit) are kept, so no traffic disappears from view.
  const shown = new Set(filled.map(labelOf));
  for (const [label, row] of found) if (!shown.has(label)) filled.push(row);
  return filled.sort((a, b) => labelOf(a).localeCompare(labelOf(b)));
}

/** Labels sort in time order and parse back to their period's start. */
function parseLabelStart(label: string, by: Dimension): number {
  const [date, time] = label.split(' ');
  const [y, m, d] = date!.split('-').map(Number);
  const h = time ? Number(time.slice(0, 2)) : 0;
  return new Date(y!, m! - 1, by === 'month' ? 1 : d!, by === 'hour' ? h : 0).getTime() / 1000;
}

/** The billed interfaces the range's traffic was captured on, and a note on those left out. */
function costBasis(db: HistoryDb, range: TimeRange, filter: ReportRequest['filter'], config: HistoryConfig, configPath: string): CostBasis {
  const captured = queryUsage(db, range, 'interface', filter).map((r) => r.interface!);
  const note = leftOutText(config, captured, configPath);
  return { source: 'capture', interfaces: captured.filter((name) => isBilledInterface(config, name)).sort(), ...(note ? { note } : {}) };
}

function billingSummary(db: HistoryDb, config: HistoryConfig, now: number, configPath: string): BillingSummary {
  const probe = computeBilling(config, 0, now);
  // Used so far: up to now (the minute under way included), even when --now looks back.
  const period: TimeRange = { since: probe.periodStart, until: Math.min(probe.periodEnd, now + 1) };
  const kernel = queryInterfaces(db, period);
  const billed = billedInterfaces(config, kernel.map((k) => k.interface));
  let source: BillingSummary['source'] = 'kernel';
  let used = kernel.filter((k) => billed.includes(k.interface)).reduce((sum, k) => sum + k.rxBytes + k.txBytes, 0);
  let interfaces = billed;
  let recorded = kernel.map((k) => k.interface);
  if (kernel.length === 0) {
    // No kernel counters recorded (interfaces without /sys statistics): the capture is the next best measure.
    const captured = queryUsage(db, period, 'interface');
    recorded = captured.map((c) => c.interface!);
    interfaces = billedInterfaces(config, recorded);
    used = captured.filter((c) => interfaces.includes(c.interface!)).reduce((sum, c) => sum + c.sentBytes + c.receivedBytes, 0);
    source = 'capture';
  }
  const billing = computeBilling(config, used, now);
  const note = leftOutText(config, recorded, configPath);
  return { ...billing, periodStart: formatDay(billing.periodStart), periodEnd: formatDay(addDays(billing.periodEnd, -1)), source, interfaces, ...(note ? { note } : {}) };
}
