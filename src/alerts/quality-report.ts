// The provider report (`netmeter report --quality`): per connection, IP family and server,
// what the line delivered over a period — median download and upload as a share of the
// plan, the speed met in 80% of tests, the evening peak (19-23 h local) beside off-peak,
// latency idle and under load, failed tests — and the incidents with their total duration.
// A pure function of the results; text, Markdown and JSON renderings for a complaint or to
// compare providers month by month.

import type { ConnectionConfig } from './config.js';
import { localHour } from './local-hour.js';
import type { Family, Incident, SpeedMeasurement } from './types.js';

export interface QualityRequest {
  measurements: SpeedMeasurement[];
  incidents: Incident[];
  connections: ConnectionConfig[];
  since: number;
  until: number;
  label: string;
  timeZone?: string;
}

export interface DirectionFigures {
  tests: number;
  medianMbps?: number;
  /** The speed reached or beaten in 80% of tests (the 20th percentile). */
  met80Mbps?: number;
  medianShareOfPlan?: number;
  met80ShareOfPlan?: number;
  eveningMedianMbps?: number;
  offPeakMedianMbps?: number;
}

export interface QualityRow {
  connection: string;
  family: Family;
  server: string;
  tests: number;
  failed: number;
  /** Left out of the figures: other traffic ran during the test. */
  contended: number;
  download: DirectionFigures;
  upload: DirectionFigures;
  latencyMedianMs?: number;
  loadedLatencyMedianMs?: number;
}

export interface QualityReport {
  version: 1;
  period: { label: string; since: string; until: string };
  connections: Array<{
    name: string;
    provider?: string;
    plan: { downloadMbps?: number; uploadMbps?: number };
    rows: QualityRow[];
    incidents: number;
    incidentSeconds: number;
  }>;
}

/** Evening peak: from 19:00 to 23:00 local time. */
const EVENING = (hour: number) => hour >= 19 && hour < 23;

export function buildQualityReport(request: QualityRequest): QualityReport {
  const { since, until } = request;
  // Retests cluster around bad moments; the scheduled tests are the fair sample.
  const inPeriod = request.measurements.filter((m) => m.at >= since && m.at < until && m.retest !== true);
  const connectionOf = (m: SpeedMeasurement) =>
    request.connections.find((c) => c.interface !== undefined && c.interface === m.interface) ?? request.connections.find((c) => c.interface === undefined) ?? request.connections[0];
  const names = request.connections.length > 0 ? request.connections.map((c) => c.name) : ['connection'];
  const report: QualityReport = { version: 1, period: { label: request.label, since: new Date(since).toISOString(), until: new Date(until).toISOString() }, connections: [] };
  for (const name of names) {
    const connection = request.connections.find((c) => c.name === name);
    const mine = inPeriod.filter((m) => (connectionOf(m)?.name ?? 'connection') === name);
    const groups = new Map<string, SpeedMeasurement[]>();
    for (const m of mine) {
      const key = `${m.family}\0${m.server}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(m);
    }
    const rows = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, list]) => {
      const [family, server] = key.split('\0') as [Family, string];
      const clean = list.filter((m) => !m.failed && !m.contended);
      const row: QualityRow = {
        connection: name,
        family,
        server,
        tests: list.length,
        failed: list.filter((m) => m.failed).length,
        contended: list.filter((m) => !m.failed && m.contended).length,
        download: figures(clean, 'downloadMbps', connection?.downloadMbps, request.timeZone),
        upload: figures(clean, 'uploadMbps', connection?.uploadMbps, request.timeZone),
      };
      const latency = median(clean.flatMap((m) => (m.latencyMs === undefined ? [] : [m.latencyMs])));
      const loaded = median(clean.flatMap((m) => (m.loadedLatencyMs === undefined ? [] : [m.loadedLatencyMs])));
      if (latency !== undefined) row.latencyMedianMs = latency;
      if (loaded !== undefined) row.loadedLatencyMedianMs = loaded;
      return row;
    });
    // Incidents that overlap the period, counted for the part inside it.
    const incidents = request.incidents.filter((i) => i.connection === name && i.type !== 'quota' && i.type !== 'projection' && i.openedAt < until && (i.closedAt ?? until) > since);
    const incidentSeconds = incidents.reduce((sum, i) => sum + (Math.min(i.closedAt ?? until, until) - Math.max(i.openedAt, since)) / 1000, 0);
    report.connections.push({
      name,
      ...(connection?.provider === undefined ? {} : { provider: connection.provider }),
      plan: { ...(connection?.downloadMbps === undefined ? {} : { downloadMbps: connection.downloadMbps }), ...(connection?.uploadMbps === undefined ? {} : { uploadMbps: connection.uploadMbps }) },
      rows,
      incidents: incidents.length,
      incidentSeconds: Math.round(incidentSeconds),
    });
  }
  return report;
}

function figures(list: SpeedMeasurement[], key: 'downloadMbps' | 'uploadMbps', plan: number | undefined, timeZone: string | undefined): DirectionFigures {
  const values = list.flatMap((m) => (m[key] === undefined ? [] : [{ at: m.at, v: m[key]! }]));
  const all = values.map((x) => x.v);
  const out: DirectionFigures = { tests: all.length };
  const med = median(all);
  const p20 = quantile(all, 0.2);
  const evening = median(values.filter((x) => EVENING(localHour(x.at, timeZone))).map((x) => x.v));
  const offPeak = median(values.filter((x) => !EVENING(localHour(x.at, timeZone))).map((x) => x.v));
  if (med !== undefined) out.medianMbps = round(med);
  if (p20 !== undefined) out.met80Mbps = round(p20);
  if (plan !== undefined && med !== undefined) out.medianShareOfPlan = round(med / plan, 3);
  if (plan !== undefined && p20 !== undefined) out.met80ShareOfPlan = round(p20 / plan, 3);
  if (evening !== undefined) out.eveningMedianMbps = round(evening);
  if (offPeak !== undefined) out.offPeakMedianMbps = round(offPeak);
  return out;
}

export function median(values: number[]): number | undefined {
  return quantile(values, 0.5);
}

/** Linear interpolation between the closest ranks (as spreadsheets do). */
export function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const position = (s.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return s[low]! + (s[high]! - s[low]!) * (position - low);
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const COLUMNS = ['family', 'server', 'tests', 'failed', 'download median', 'met in 80%', 'evening / off-peak', 'upload median', 'met in 80%', 'latency idle / loaded'];

function cells(row: QualityRow): string[] {
  const mbps = (v?: number, share?: number) => (v === undefined ? '-' : `${v.toFixed(1)}${share === undefined ? '' : ` (${Math.round(share * 100)}%)`}`);
  const pair = (a?: number, b?: number) => `${a === undefined ? '-' : a.toFixed(1)} / ${b === undefined ? '-' : b.toFixed(1)}`;
  return [
    row.family,
    row.server,
    String(row.tests),
    String(row.failed),
    mbps(row.download.medianMbps, row.download.medianShareOfPlan),
    mbps(row.download.met80Mbps, row.download.met80ShareOfPlan),
    pair(row.download.eveningMedianMbps, row.download.offPeakMedianMbps),
    mbps(row.upload.medianMbps, row.upload.medianShareOfPlan),
    mbps(row.upload.met80Mbps, row.upload.met80ShareOfPlan),
    `${row.latencyMedianMs === undefined ? '-' : row.latencyMedianMs.toFixed(0)} / ${row.loadedLatencyMedianMs === undefined ? '-' : row.loadedLatencyMedianMs.toFixed(0)} ms`,
  ];
}

function heading(c: QualityReport['connections'][number]): string {
  const plan = [c.plan.downloadMbps === undefined ? '' : `${c.plan.downloadMbps} Mbit/s down`, c.plan.uploadMbps === undefined ? '' : `${c.plan.uploadMbps} Mbit/s up`].filter(Boolean).join(', ');
  return `${c.name}${c.provider ? ` (${c.provider})` : ''}${plan ? `, plan ${plan}` : ''}`;
}

function incidentLine(c: QualityReport['connections'][number]): string {
  const hours = Math.floor(c.incidentSeconds / 3600);
  const minutes = Math.round((c.incidentSeconds % 3600) / 60);
  return `Incidents: ${c.incidents}, ${hours} h ${minutes} min in total. Speeds in Mbit/s (share of the plan); evening is 19-23 h local time.`;
}

export function renderQualityMarkdown(report: QualityReport): string {
  const out = [`# Connection quality, ${report.period.label}`, ''];
  for (const c of report.connections) {
    out.push(`## ${heading(c)}`, '', incidentLine(c), '');
    out.push(`| ${COLUMNS.join(' | ')} |`, `| ${COLUMNS.map(() => '---').join(' | ')} |`);
    for (const row of c.rows) out.push(`| ${cells(row).join(' | ')} |`);
    if (c.rows.length === 0) out.push(`| ${COLUMNS.map((_, i) => (i === 0 ? 'no tests' : '')).join(' | ')} |`);
    out.push('');
  }
  return `${out.join('\n')}`;
}

export function renderQualityText(report: QualityReport): string {
  const out = [`Connection quality, ${report.period.label}`];
  for (const c of report.connections) {
    out.push('', heading(c), incidentLine(c));
    const table = [COLUMNS, ...c.rows.map(cells)];
    const widths = COLUMNS.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const r of table) out.push(`  ${r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`.trimEnd());
    if (c.rows.length === 0) out.push('  no speed tests in this period');
  }
  return `${out.join('\n')}\n`;
}
