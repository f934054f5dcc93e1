// The rows of each live view, drawn from one usage report: per process, per application
// (processes of one executable summed), per connection and per remote host — filtered by
// the user's text and sorted by the chosen key. Pure, so the aggregation is tested without Ink.

import { byCodeUnits, type ConnectionUsage, type ProcessUsage, type UsageReport } from '../usage-report.js';
import { endpoint } from '../usage-table.js';

export type ViewKind = 'processes' | 'applications' | 'connections' | 'hosts';
export const VIEW_ORDER: readonly ViewKind[] = ['processes', 'applications', 'connections', 'hosts'];

/** Which direction orders the rows. */
export type ScreenSort = 'upload' | 'download' | 'total';
/** Whether the rows are ordered (and led) by the rate over the last interval or by the totals since start. */
export type Measure = 'rate' | 'total';

export interface RowOptions {
  sort: ScreenSort;
  measure: Measure;
  /** Case-insensitive substring of a name, command line, executable or remote address; '' keeps every row. */
  filter: string;
  /**
   * Rate mode: an exited process idle at least this many seconds leaves the processes
   * view, folded into one "exited" row per program that keeps its bytes. Undefined: none fold.
   */
  fadeSeconds?: number;
  /** A process row that never folds (the selected one: the highlight must not lose it). */
  keepKey?: string | null;
  /** Show remote hosts by name where one is known ('n' toggles); default: by address. */
  names?: boolean;
}

/** Exited processes leave rate mode after this many quiet intervals. */
export const FADE_INTERVALS = 3;

export interface Amounts {
  sentBytes: number;
  receivedBytes: number;
  sentRate: number;
  receivedRate: number;
}

export interface ProcessRow extends Amounts {
  key: string;
  pid: number | null;
  user: string | null;
  name: string;
  cmdline: string;
  exited: boolean;
  /** How many exited processes of one program this row stands for (rate mode); 0 for a process's own row. */
  folded: number;
}

export interface ApplicationRow extends Amounts {
  key: string;
  name: string;
  exe: string | null;
  pids: number[];
  /** The user when every process shares one, else null. */
  user: string | null;
  cmdline: string;
  /** Every process of the application has exited. */
  exited: boolean;
}

export interface ConnectionRow extends Amounts {
  key: string;
  protocol: string;
  local: string;
  /** The remote end as shown: its name (when names are on and one is known) or address, and port. */
  remote: string;
  pid: number | null;
  name: string | null;
}

export interface HostRow extends Amounts {
  key: string;
  remoteAddress: string;
  /** The host's name when names are on and one is known, else null. */
  remoteName: string | null;
  connections: number;
  /** Program names talking to the host, in order of first appearance. */
  programs: string[];
}

export function sortAmount(row: Amounts, sort: ScreenSort, measure: Measure): number {
  const sent = measure === 'rate' ? row.sentRate : row.sentBytes;
  const received = measure === 'rate' ? row.receivedRate : row.receivedBytes;
  return sort === 'upload' ? sent : sort === 'download' ? received : sent + received;
}

function sortRows<T extends Amounts>(rows: T[], options: RowOptions, tieBreak: (x: T, y: T) => number): T[] {
  return rows.sort((x, y) => sortAmount(y, options.sort, options.measure) - sortAmount(x, options.sort, options.measure) || tieBreak(x, y));
}

function matches(filter: string, texts: Array<string | null | undefined>): boolean {
  if (filter === '') return true;
  const needle = filter.toLowerCase();
  return texts.some((text) => text != null && text.toLowerCase().includes(needle));
}

/** Pids order ascending, with "no pid" last. */
function comparePid(x: number | null, y: number | null): number {
  return (x ?? Number.MAX_SAFE_INTEGER) - (y ?? Number.MAX_SAFE_INTEGER);
}

export function processRowKey(p: { pid: number | null; name: string }): string {
  return `${p.pid ?? '-'}:${p.name}`;
}

function processMatches(p: ProcessUsage, filter: string): boolean {
  return matches(filter, [p.name, p.cmdline, p.exe]);
}

function toProcessRow(p: ProcessUsage): ProcessRow {
  return {
    key: processRowKey(p),
    pid: p.pid,
    user: p.user,
    name: p.name,
    cmdline: p.cmdline,
    exited: p.exited === true,
    folded: 0,
    sentBytes: p.sentBytes,
    receivedBytes: p.receivedBytes,
    sentRate: p.sentRate,
    receivedRate: p.receivedRate,
  };
}

function hasFaded(p: ProcessUsage, options: RowOptions): boolean {
  return (
    options.measure === 'rate' &&
    options.fadeSeconds !== undefined &&
    p.exited === true &&
    p.idleSeconds !== undefined &&
    p.idleSeconds >= options.fadeSeconds &&
    processRowKey(p) !== options.keepKey
  );
}

/**
 * One row per process; in rate mode, exited processes that went quiet are summed into one
 * row per program (by executable, else name), so a loop of short-lived commands does not
 * bury the live ones under hundreds of dead rows.
 */
export function processRows(report: UsageReport, options: RowOptions): ProcessRow[] {
  const rows: ProcessRow[] = [];
  const folds = new Map<string, ProcessRow>();
  for (const p of report.processes) {
    if (!processMatches(p, options.filter)) continue;
    if (!hasFaded(p, options)) {
      rows.push(toProcessRow(p));
      continue;
    }
    const key = `exited:${p.exe ?? p.name}`;
    let fold = folds.get(key);
    if (!fold) {
      fold = { key, pid: null, user: p.user, name: p.name, cmdline: '', exited: true, folded: 0, sentBytes: 0, receivedBytes: 0, sentRate: 0, receivedRate: 0 };
      folds.set(key, fold);
      rows.push(fold);
    }
    if (fold.user !== p.user) fold.user = null;
    fold.folded++;
    fold.sentBytes += p.sentBytes;
    fold.receivedBytes += p.receivedBytes;
    fold.sentRate += p.sentRate;
    fold.receivedRate += p.receivedRate;
  }
  return sortRows(rows, options, (x, y) => comparePid(x.pid, y.pid) || byCodeUnits(x.name, y.name) || byCodeUnits(x.key, y.key));
}

/** Processes of one program summed: grouped by executable when known, else by name. */
export function applicationRows(report: UsageReport, options: RowOptions): ApplicationRow[] {
  const members = report.processes
    .filter((p) => processMatches(p, options.filter))
    .sort((x, y) => comparePid(x.pid, y.pid));
  const groups = new Map<string, ApplicationRow>();
  for (const p of members) {
    const key = p.exe ? `exe:${p.exe}` : `name:${p.name}`;
    let row = groups.get(key);
    if (!row) {
      row = { key, name: p.name, exe: p.exe ?? null, pids: [], user: p.user, cmdline: p.cmdline, exited: true, sentBytes: 0, receivedBytes: 0, sentRate: 0, receivedRate: 0 };
      groups.set(key, row);
    }
    if (p.pid !== null) row.pids.push(p.pid);
    if (row.user !== p.user) row.user = null;
    row.exited &&= p.exited === true;
    row.sentBytes += p.sentBytes;
    row.receivedBytes += p.receivedBytes;
    row.sentRate += p.sentRate;
    row.receivedRate += p.receivedRate;
  }
  return sortRows([...groups.values()], options, (x, y) => comparePid(x.pids[0] ?? null, y.pids[0] ?? null) || byCodeUnits(x.key, y.key));
}

function toConnectionRow(c: ConnectionUsage, names: boolean): ConnectionRow {
  const local = endpoint(c.localAddress, c.localPort);
  const remote = endpoint(c.remoteAddress, c.remotePort);
  return {
    key: `${c.protocol} ${local} ${remote}`,
    protocol: c.protocol,
    local,
    remote: names && c.remoteName !== undefined ? `${c.remoteName}:${c.remotePort}` : remote,
    pid: c.pid,
    name: c.name,
    sentBytes: c.sentBytes,
    receivedBytes: c.receivedBytes,
    sentRate: c.sentRate ?? 0,
    receivedRate: c.receivedRate ?? 0,
  };
}

function filteredConnections(report: UsageReport, filter: string, pid: number | undefined): ConnectionUsage[] {
  const cmdlines = new Map(report.processes.map((p) => [p.pid, p.cmdline]));
  return report.connections.filter(
    (c) => (pid === undefined || c.pid === pid) && matches(filter, [c.name, c.pid === null ? null : cmdlines.get(c.pid), c.remoteAddress, c.remoteName]),
  );
}

/** Connections, optionally only those of one pid (the detail view of a process). */
export function connectionRows(report: UsageReport, options: RowOptions, pid?: number): ConnectionRow[] {
  const rows = filteredConnections(report, options.filter, pid).map((c) => toConnectionRow(c, options.names === true));
  return sortRows(rows, options, (x, y) => comparePid(x.pid, y.pid) || byCodeUnits(x.key, y.key));
}

/** Connections grouped by remote address. */
export function hostRows(report: UsageReport, options: RowOptions): HostRow[] {
  const groups = new Map<string, HostRow>();
  for (const c of filteredConnections(report, options.filter, undefined)) {
    let row = groups.get(c.remoteAddress);
    if (!row) {
      row = { key: c.remoteAddress, remoteAddress: c.remoteAddress, remoteName: null, connections: 0, programs: [], sentBytes: 0, receivedBytes: 0, sentRate: 0, receivedRate: 0 };
      groups.set(c.remoteAddress, row);
    }
    if (options.names && c.remoteName !== undefined) row.remoteName ??= c.remoteName;
    row.connections++;
    const program = c.name ?? 'unknown';
    if (!row.programs.includes(program)) row.programs.push(program);
    row.sentBytes += c.sentBytes;
    row.receivedBytes += c.receivedBytes;
    row.sentRate += c.sentRate ?? 0;
    row.receivedRate += c.receivedRate ?? 0;
  }
  return sortRows([...groups.values()], options, (x, y) => byCodeUnits(x.key, y.key));
}

/** The share of attributable bytes (processes + unknown) that no process could be found for; null before any byte. */
export function unknownShare(report: UsageReport): number | null {
  const processBytes = report.processes.reduce((sum, p) => sum + p.sentBytes + p.receivedBytes, 0);
  const all = processBytes + report.unknown.bytes;
  return all > 0 ? report.unknown.bytes / all : null;
}
