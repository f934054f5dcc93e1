// `netmeter report --speed`: the stored speed tests of a range as a document (JSON), a
// table, CSV, or bars over time (--graph). With a subscribed plan from the config, each
// complete test also shows the share of the plan it delivered. Partial and failed tests
// are listed with their status and never enter the medians, shares or bars.

import { formatLocal } from '../history/calendar.js';
import type { HistoryDb } from '../history/database.js';
import { formatBytes } from '../present/units.js';
import { planFor, type SpeedtestConfig } from './config.js';
import { querySpeedTests, type StoredSpeedTest } from './store.js';

export const DOWNLOAD_FILL = '▓';
export const UPLOAD_FILL = '░';

export interface SpeedReportRow extends StoredSpeedTest {
  /** UTC, ISO 8601. */
  startedAt: string;
  /** Delivered share of the plan in percent (complete tests with a plan only). */
  downloadPlanPercent: number | null;
  uploadPlanPercent: number | null;
}

export interface SpeedReport {
  version: 1;
  range: { since: number; until: number; label: string };
  tests: SpeedReportRow[];
  summary: { complete: number; partial: number; failed: number; medianDownloadMbps: number | null; medianUploadMbps: number | null };
}

export function buildSpeedReport(db: HistoryDb, range: { since: number; until: number; label: string }, config?: SpeedtestConfig, only: { interface?: string } = {}): SpeedReport {
  const tests = querySpeedTests(db, range, only).map((t): SpeedReportRow => {
    const plan = planFor(config, t.interface);
    const share = (mbps: number | null, planMbps: number | undefined) =>
      t.status === 'complete' && mbps !== null && planMbps !== undefined ? Math.round((mbps / planMbps) * 1000) / 10 : null;
    return { ...t, startedAt: new Date(t.started * 1000).toISOString().replace('.000Z', 'Z'), downloadPlanPercent: share(t.downloadMbps, plan.planDownloadMbps), uploadPlanPercent: share(t.uploadMbps, plan.planUploadMbps) };
  });
  const complete = tests.filter((t) => t.status === 'complete');
  return {
    version: 1,
    range,
    tests,
    summary: {
      complete: complete.length,
      partial: tests.filter((t) => t.status === 'partial').length,
      failed: tests.filter((t) => t.status === 'failed').length,
      medianDownloadMbps: median(complete.map((t) => t.downloadMbps)),
      medianUploadMbps: median(complete.map((t) => t.uploadMbps)),
    },
  };
}

function median(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const mbps = (v: number | null) => (v === null ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ms = (v: number | null) => (v === null ? '-' : v.toFixed(1));
const pct = (v: number | null) => (v === null ? '' : ` (${v.toFixed(0)}%)`);

export function renderSpeedTable(report: SpeedReport, options: { graph: boolean; width: number }): string {
  const lines = [`Speed tests, ${report.range.label}: ${report.summary.complete} complete, ${report.summary.partial} partial, ${report.summary.failed} failed`];
  if (report.tests.length === 0) return `${lines[0]}\n`;
  if (options.graph) return `${[...lines, ...graphLines(report, options.width)].join('\n')}\n`;
  const head = ['TIME', 'STATUS', 'SERVER', 'IF', 'DOWN Mbit/s', 'UP Mbit/s', 'IDLE ms', 'LOADED ms ↓/↑', 'LOSS %', 'DATA'];
  const rows = report.tests.map((t) => [
    formatLocal(t.started),
    t.status,
    t.serverName,
    t.interface ?? '-',
    `${mbps(t.downloadMbps)}${pct(t.downloadPlanPercent)}`,
    `${mbps(t.uploadMbps)}${pct(t.uploadPlanPercent)}`,
    ms(t.idleLatencyMs),
    `${ms(t.downloadLatencyMs)}/${ms(t.uploadLatencyMs)}`,
    t.packetLossPercent === null ? '-' : String(t.packetLossPercent),
    formatBytes(t.bytesUsed),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 4 && i <= 8 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  lines.push(line(head), ...rows.map(line));
  if (report.summary.complete > 0) lines.push(`median of complete tests: down ${mbps(report.summary.medianDownloadMbps)} Mbit/s, up ${mbps(report.summary.medianUploadMbps)} Mbit/s`);
  for (const t of report.tests) if (t.status !== 'complete' && t.error) lines.push(`${formatLocal(t.started)} ${t.status}: ${t.error}`);
  return `${lines.join('\n')}\n`;
}

/** One line per test: the download bar then the upload bar, both on one scale (the fastest complete test). */
function graphLines(report: SpeedReport, width: number): string[] {
  const complete = report.tests.filter((t) => t.status === 'complete');
  const max = Math.max(0, ...complete.flatMap((t) => [t.downloadMbps ?? 0, t.uploadMbps ?? 0]));
  const barWidth = Math.max(10, Math.floor((width - 40) / 2));
  const bar = (v: number | null, fill: string) => (v === null || max <= 0 ? '' : fill.repeat(Math.max(1, Math.round((v / max) * barWidth))));
  const out = report.tests.map((t) => {
    const when = formatLocal(t.started);
    if (t.status !== 'complete') return `${when}  (${t.status})`;
    return `${when}  ${bar(t.downloadMbps, DOWNLOAD_FILL).padEnd(barWidth)} ${mbps(t.downloadMbps).padStart(6)}  ${bar(t.uploadMbps, UPLOAD_FILL).padEnd(barWidth)} ${mbps(t.uploadMbps).padStart(6)}`;
  });
  return [...out, `${DOWNLOAD_FILL} download  ${UPLOAD_FILL} upload (Mbit/s; bars to the fastest: ${mbps(max)})`];
}

const CSV_COLUMNS: (keyof SpeedReportRow)[] = ['startedAt', 'status', 'serverName', 'serverUrl', 'protocol', 'family', 'interface', 'localAddress', 'publicAddress',
  'downloadMbps', 'uploadMbps', 'idleLatencyMs', 'jitterMs', 'downloadLatencyMs', 'uploadLatencyMs', 'packetLossPercent', 'bytesUsed', 'downloadPlanPercent', 'uploadPlanPercent', 'error'];

export function renderSpeedCsv(report: SpeedReport): string {
  const cell = (v: unknown) => {
    const text = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [CSV_COLUMNS.join(','), ...report.tests.map((t) => CSV_COLUMNS.map((c) => cell(t[c])).join(','))].join('\n') + '\n';
}
