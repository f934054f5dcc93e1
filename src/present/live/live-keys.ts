// The live screen's session state and what each key does to it. Pure: the Ink app feeds it
// key presses and acts on the outcome (quit, pause changes).

import type { Key } from 'ink';
import type { RateUnit } from './amount-columns.js';
import type { LiveFrame } from './live-feed.js';
import type { Measure, ProcessRow, ScreenSort, ViewKind } from './view-rows.js';
import { VIEW_ORDER } from './view-rows.js';

export interface LiveState {
  view: ViewKind;
  /** The process whose connections are shown instead of the view, when one was opened with Enter. */
  detail: { pid: number; name: string } | null;
  sort: ScreenSort;
  measure: Measure;
  unit: RateUnit;
  /** The selected process (by row key), so the highlight follows it as rows re-sort. */
  selectedKey: string | null;
  filter: string;
  editingFilter: boolean;
  help: boolean;
  /** Remote hosts by name where one is known, else by address. */
  names: boolean;
  /** The frame on screen while paused. */
  pausedFrame: LiveFrame | null;
}

export const INITIAL_LIVE_STATE: LiveState = {
  view: 'processes',
  detail: null,
  sort: 'total',
  measure: 'rate',
  unit: 'bytes',
  selectedKey: null,
  filter: '',
  editingFilter: false,
  help: false,
  names: true,
  pausedFrame: null,
};

export interface KeyContext {
  /** The newest frame, frozen on screen by a pause. */
  frame: LiveFrame;
  /** The processes view's rows in screen order (only asked for by selection keys). */
  processRows: () => ProcessRow[];
  /** How many rows the table shows at once: what PgUp and PgDn move by. */
  pageRows: number;
}

export interface KeyOutcome {
  state: LiveState;
  quit?: boolean;
}

/** The row index the highlight is on: the selected process, else the first row. */
export function selectedIndex(state: LiveState, rows: ProcessRow[]): number {
  const index = rows.findIndex((r) => r.key === state.selectedKey);
  return index < 0 ? 0 : index;
}

function isPrintable(input: string): boolean {
  return input.length > 0 && !/[\u0000-\u001f\u007f]/.test(input);
}

function editFilter(state: LiveState, input: string, key: Key): LiveState {
  if (key.return) return { ...state, editingFilter: false };
  if (key.escape) return { ...state, editingFilter: false, filter: '' };
  // Most terminals send DEL (which Ink names "delete") for the Backspace key.
  if (key.backspace || key.delete) return { ...state, filter: [...state.filter].slice(0, -1).join('') };
  if (key.ctrl || key.meta || !isPrintable(input)) return state;
  return { ...state, filter: state.filter + input };
}

function pageStep(context: KeyContext): number {
  return Math.max(1, context.pageRows);
}

function moveSelection(state: LiveState, by: number, rows: ProcessRow[]): LiveState {
  if (rows.length === 0) return state;
  const index = Math.min(rows.length - 1, Math.max(0, selectedIndex(state, rows) + by));
  return { ...state, selectedKey: rows[index]!.key };
}

function openSelected(state: LiveState, rows: ProcessRow[]): LiveState {
  const row = rows[selectedIndex(state, rows)];
  if (!row || row.pid === null) return state;
  return { ...state, selectedKey: row.key, detail: { pid: row.pid, name: row.name } };
}

export function applyKey(state: LiveState, input: string, key: Key, context: KeyContext): KeyOutcome {
  if (state.editingFilter) return { state: editFilter(state, input, key) };
  if (input === 'q' || (key.ctrl && input === 'c')) return { state, quit: true };
  if (state.help) {
    return { state: input === '?' || key.escape ? { ...state, help: false } : state };
  }
  // Esc is the way home from anywhere in the list: back to its top, where the live rows are,
  // however far the selection drifted (a process that went quiet sinks to the bottom).
  if (key.escape) return { state: { ...state, detail: null, selectedKey: null } };
  // Backspace leaves a process's connections for the list with that process still selected.
  if (state.detail && (key.backspace || key.delete)) return { state: { ...state, detail: null } };
  const inProcesses = state.view === 'processes' && !state.detail;
  if (inProcesses) {
    const by = key.upArrow ? -1 : key.downArrow ? 1 : key.pageUp ? -pageStep(context) : key.pageDown ? pageStep(context) : key.home ? -Infinity : key.end ? Infinity : 0;
    if (by !== 0) return { state: moveSelection(state, by, context.processRows()) };
    if (key.return) return { state: openSelected(state, context.processRows()) };
  }
  switch (input) {
    case 'u':
      return { state: { ...state, sort: 'upload' } };
    case 'd':
      return { state: { ...state, sort: 'download' } };
    case 't':
      return { state: { ...state, sort: 'total' } };
    case 'm':
      return { state: { ...state, measure: state.measure === 'rate' ? 'total' : 'rate' } };
    case 'b':
      return { state: { ...state, unit: state.unit === 'bytes' ? 'bits' : 'bytes' } };
    case 'v': {
      const next = VIEW_ORDER[(VIEW_ORDER.indexOf(state.view) + 1) % VIEW_ORDER.length]!;
      return { state: { ...state, view: next, detail: null } };
    }
    case '1':
    case '2':
    case '3':
    case '4':
      return { state: { ...state, view: VIEW_ORDER[Number(input) - 1]!, detail: null } };
    case 'n':
      return { state: { ...state, names: !state.names } };
    case 'p':
      return { state: { ...state, pausedFrame: state.pausedFrame ? null : context.frame } };
    case '/':
      return { state: { ...state, editingFilter: true } };
    case '?':
      return { state: { ...state, help: true } };
    default:
      return { state };
  }
}
