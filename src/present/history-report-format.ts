// The history report as text: a table (with bars for --graph), the kernel's interface
// counters, the billing period's cost and quota — and as CSV, one line per row.

import { formatBytes } from './units.js';
import type { BillingSummary, CostBasis, HistoryReport, ReportRow } from '../history/report-document.js';
import type { Dimension } from '../history/queries.js';
import { drawBar, graphLegend } from './usage-graph.js';
import { SUBSCRIBER_APP, UNKNOWN_APP } from '../history/usage-key.js';
import type { SubscriberBilling } from '../history/subscriber-billing.js';
import { addDays, formatDay } from '../history/calendar.js';

export interface TableOptions {
  graph: boolean;
  /** Terminal width, for the bars. */
  width: number;
}

const HEADINGS: Record<Dimension, string[]> = {
  app: ['APPLICATION', 'PATH'],
  user: ['USER'],
  host: ['SUBSCRIBER'],
  interface: ['INTERFACE'],
  day: ['DAY'],
  hour: ['HOUR'],
  month: ['MONTH'],
};

const BY_TEXT: Record<Dimension, string> = {
  app: 'by application',
  user: 'by user',
  host: 'by subscriber',
  interface: 'by interface',
  day: 'by day',
  hour: 'by hour',
  month: 'by month',
};

function labels(row: ReportRow, by: Dimension): string[] {
  switch (by) {
    case 'app':
      // A path netmeter could not read (owner-joins.ts says when and why) is said to be so.
      // Unknown traffic and the subscribers' (--by host) have no program to have a path.
      return [row.app ?? '', shorten(row.exe ?? (row.app === UNKNOWN_APP || row.app === SUBSCRIBER_APP ? '' : '(not read)'), 48)];
    case 'user':
      return [row.user ?? '(unknown)'];
    case 'host':
      return [row.host ?? '(no subscriber)'];
    case 'interface':
      return [row.interface ?? ''];
    default:
      return [row.day ?? row.hour ?? row.month ?? ''];
  }
}

export function formatMoney(amount: number, currency: string): string {
  return currency ? `${amount.toFixed(2)} ${currency}` : amount.toFixed(2);
}

export function renderHistoryTable(report: HistoryReport, options: TableOptions): string {
  const by = report.by;
  const priced = report.totals.cost !== undefined;
  const currency = report.billing?.currency ?? '';
  const head = [...HEADINGS[by], 'RECEIVED', 'SENT', 'TOTAL', ...(priced ? ['COST'] : [])];
  const numbers = (r: { receivedBytes: number; sentBytes: number; totalBytes: number; cost?: number }) => [
    formatBytes(r.receivedBytes),
    formatBytes(r.sentBytes),
    formatBytes(r.totalBytes),
    ...(priced ? [formatMoney(r.cost ?? 0, currency)] : []),
  ];
  const body = report.rows.map((r) => [...labels(r, by), ...numbers(r)]);
  const labelColumns = HEADINGS[by].length;
  const totalRow = ['total', ...new Array<string>(labelColumns - 1).fill(''), ...numbers(report.totals)];
  const all = [head, ...body, totalRow];
  const widths = head.map((_, col) => Math.max(...all.map((r) => r[col]!.length)));
  const line = (cells: string[]) => cells.map((c, col) => (col < labelColumns ? c.padEnd(widths[col]!) : c.padStart(widths[col]!))).join('  ');
  const tableWidth = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  const barWidth = Math.max(10, options.width - tableWidth - 3);
  const max = Math.max(0, ...report.rows.map((r) => r.totalBytes));

  const out: string[] = [`netmeter history: ${report.range.label}, ${BY_TEXT[by]}`, ''];
  if (report.rows.length === 0) {
    out.push('No traffic recorded in this range.');
  } else {
    out.push(line(head).trimEnd());
    for (const [i, cells] of body.entries()) {
      const row = report.rows[i]!;
      const bar = options.graph ? ` ${drawBar(row.receivedBytes, row.sentBytes, max, barWidth)}` : '';
      out.push(`${line(cells)}${bar}`.trimEnd());
    }
    if (report.omittedRows > 0) out.push(`(${report.omittedRows} more not shown)`);
    out.push(widths.map((w) => '-'.repeat(w)).join('  '));
    out.push(line(totalRow).trimEnd());
    if (report.costBasis && report.billing) out.push(...renderCostBasis(report.costBasis, report.billing));
    if (options.graph) out.push('', graphLegend());
  }
  if (report.interfaces.length > 0) {
    out.push('', 'Interfaces (kernel counters):');
    const w = Math.max(...report.interfaces.map((i) => i.interface.length));
    for (const i of report.interfaces) {
      out.push(`  ${i.interface.padEnd(w)}  rx ${formatBytes(i.rxBytes).padStart(10)}  tx ${formatBytes(i.txBytes).padStart(10)}  total ${formatBytes(i.totalBytes).padStart(10)}`);
    }
  }
  if (report.billing) out.push('', ...renderBilling(report.billing));
  if (report.subscriberBilling) out.push('', ...renderSubscriberBilling(report.subscriberBilling));
  return `${out.join('\n')}\n`;
}

/** What COST prices: each row's captured bytes on the billed interfaces (not the kernel's counters). */
function renderCostBasis(basis: CostBasis, billing: BillingSummary): string[] {
  const where = basis.interfaces.length > 0 ? `on ${basis.interfaces.join(', ')}` : 'on billed interfaces (none in this range)';
  const price = billing.pricePerGB !== undefined ? ` at ${formatMoney(billing.pricePerGB, billing.currency)} per GB` : '';
  return [`COST: each row's captured traffic ${where}${price}.`, ...(basis.note ? [`      ${basis.note}.`] : [])];
}

function renderBilling(b: BillingSummary): string[] {
  const money = (n: number) => formatMoney(n, b.currency);
  const day = `day ${Math.min(Math.floor(b.elapsedDays) + 1, b.periodDays)} of ${b.periodDays}`;
  // The kernel's counters hold all of an interface's traffic: what no application owned too.
  const what = b.source === 'kernel' ? 'kernel counters' : 'captured traffic';
  const where = b.interfaces.length > 0 ? `${what} of ${b.interfaces.join(', ')}${b.source === 'kernel' ? ', all traffic' : ''}` : 'no billed interface recorded yet';
  const lines = [
    `Billing period ${b.periodStart} to ${b.periodEnd} (${day}; ${where}):`,
    ...(b.note ? [`  note       ${b.note}.`] : []),
    `  used       ${formatBytes(b.usedBytes)}${b.cost !== undefined ? `, cost so far ${money(b.cost)}` : ''}`,
  ];
  if (b.quotaBytes !== undefined) {
    lines.push(`  quota      ${formatBytes(b.quotaBytes)}: ${b.quotaUsedPercent!.toFixed(1)}% used, ${formatBytes(b.quotaLeftBytes!)} left`);
  }
  const over = b.projectedOverQuota ? ' (over the quota)' : '';
  lines.push(`  projected  ${formatBytes(b.projectedBytes)} by the end of the period${b.projectedCost !== undefined ? `, ${money(b.projectedCost)}` : ''}${over}`);
  return lines;
}

/** One line per planned subscriber: its billing period's use against its own quota and price. */
function renderSubscriberBilling(list: SubscriberBilling[]): string[] {
  if (list.length === 0) return ['Subscribers (history setting "subscribers"): none with traffic this billing period.'];
  const first = list[0]!;
  const w = Math.max(...list.map((b) => b.host.length));
  const lines = [`Subscribers' billing period ${formatDay(first.periodStart)} to ${formatDay(addDays(first.periodEnd, -1))} (captured traffic):`];
  for (const b of list) {
    const money = (n: number) => formatMoney(n, b.currency);
    const quota = b.quotaBytes !== undefined ? ` of ${formatBytes(b.quotaBytes)} (${b.quotaUsedPercent!.toFixed(1)}%)` : '';
    const cost = b.cost !== undefined ? `, cost ${money(b.cost)}` : '';
    const over = b.projectedOverQuota ? ' (over the quota)' : '';
    lines.push(`  ${b.host.padEnd(w)}  used ${formatBytes(b.usedBytes)}${quota}${cost}; projected ${formatBytes(b.projectedBytes)}${over}`);
  }
  return lines;
}

const CSV_LABELS: Record<Dimension, Array<keyof ReportRow>> = {
  app: ['app', 'exe'],
  user: ['user'],
  host: ['host'],
  interface: ['interface'],
  day: ['day'],
  hour: ['hour'],
  month: ['month'],
};

/** RFC 4180: one header line, then a line per row, bytes as exact numbers. */
export function renderHistoryCsv(report: HistoryReport): string {
  const labelKeys = CSV_LABELS[report.by];
  const priced = report.totals.cost !== undefined;
  const header = [...labelKeys, 'received_bytes', 'sent_bytes', 'total_bytes', 'received_packets', 'sent_packets', ...(priced ? ['cost'] : [])];
  const lines = [header.join(',')];
  for (const row of report.rows) {
    const cells = [
      ...labelKeys.map((k) => csvCell(String(row[k] ?? ''))),
      row.receivedBytes, row.sentBytes, row.totalBytes, row.receivedPackets, row.sentPackets,
      ...(priced ? [(row.cost ?? 0).toFixed(4)] : []),
    ];
    lines.push(cells.join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function shorten(text: string, max: number): string {
  return text.length > max ? `…${text.slice(text.length - max + 1)}` : text;
}
