// The Ink screen of `netmeter` live: a view of the feed's latest frame (or the frame frozen
// by a pause) and the session state of live-keys.ts, fitted to the terminal's size.

import { Box, Text, useInput, useStdout } from 'ink';
import type { Key } from 'ink';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { ReactElement } from 'react';
import { ApplicationTable } from './application-table.js';
import { ConnectionTable } from './connection-table.js';
import { HelpOverlay } from './help-overlay.js';
import type { LiveFeed, LiveFrame } from './live-feed.js';
import { LiveHeader, headerLines, uncapturedWithTraffic } from './live-header.js';
import type { LiveState } from './live-keys.js';
import { INITIAL_LIVE_STATE, applyKey, selectedIndex } from './live-keys.js';
import { ProcessTable } from './process-table.js';
import { HostTable } from './host-table.js';
import type { TableSettings } from './table.js';
import type { Segment } from './columns.js';
import { segmentsToFit } from './columns.js';
import type { RowOptions } from './view-rows.js';
import { FADE_INTERVALS, applicationRows, connectionRows, hostRows, processRows, unknownShare } from './view-rows.js';

export interface LiveAppProps {
  feed: LiveFeed;
  /** Called on 'q': the caller unmounts and restores the terminal. */
  onQuit: () => void;
  onPauseChange?: (paused: boolean) => void;
  /** Settings to start with (tests, or a command-line default such as --sort). */
  initialState?: Partial<LiveState>;
  /** How owners are found, for the help screen (e.g. "/proc and kernel events"). */
  ownersFrom?: string;
  /** Where host names come from, for the help screen; absent: names are not looked for. */
  namesFrom?: string;
}

const DEFAULT_COLUMNS = 80;
const DEFAULT_ROWS = 24;

/** The terminal's size, re-read when it is resized. */
function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || DEFAULT_COLUMNS, rows: stdout.rows || DEFAULT_ROWS });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

function rowOptions(state: LiveState, frame: LiveFrame): RowOptions {
  return {
    sort: state.sort,
    measure: state.measure,
    filter: state.filter,
    fadeSeconds: FADE_INTERVALS * frame.intervalSeconds,
    keepKey: state.selectedKey,
    names: state.names,
  };
}

/** Lines for the table's rows: what the header, titles and footer leave of the terminal. */
function tableHeight(terminalRows: number, frame: LiveFrame, state: LiveState): number {
  const titleLines = state.detail && !state.help ? 1 : 0;
  // The table's title row, the footer line, and one spare line so the frame never fills the
  // terminal (Ink clears the whole screen on every frame that does).
  return Math.max(1, terminalRows - headerLines(frame.report) - titleLines - 3);
}

function viewTitle(state: LiveState): string {
  return state.detail ? `connections of ${state.detail.pid}` : state.view;
}

export function LiveApp({ feed, onQuit, onPauseChange, initialState, ownersFrom, namesFrom }: LiveAppProps) {
  // Bound here so a feed may implement LiveFeed with plain methods.
  const subscribe = useCallback((listener: () => void) => feed.subscribe(listener), [feed]);
  const current = useCallback(() => feed.current(), [feed]);
  const latest = useSyncExternalStore(subscribe, current);
  const [state, setState] = useState<LiveState>(() => ({ ...INITIAL_LIVE_STATE, ...initialState }));
  // Keys handled before React re-renders (several in one chunk of input) must see each other's effect.
  const stateRef = useRef(state);
  const { columns, rows } = useTerminalSize();

  useInput((input: string, key: Key) => {
    const before = stateRef.current;
    const frame: LiveFrame = before.pausedFrame ?? feed.current();
    const outcome = applyKey(before, input, key, {
      frame: feed.current(),
      processRows: () => processRows(frame.report, rowOptions(before, frame)),
      // A clipped table keeps its last line for "… N more".
      pageRows: tableHeight(rows, frame, before) - 1,
    });
    if (outcome.state !== before) {
      stateRef.current = outcome.state;
      setState(outcome.state);
      if ((outcome.state.pausedFrame === null) !== (before.pausedFrame === null)) onPauseChange?.(outcome.state.pausedFrame !== null);
    }
    if (outcome.quit) onQuit();
  });

  const frame = state.pausedFrame ?? latest;
  const report = frame.report;
  const options = rowOptions(state, frame);
  const paused = state.pausedFrame !== null || frame.paused === true;

  const titleLines = state.detail && !state.help ? 1 : 0;
  const height = tableHeight(rows, frame, state);
  const settings: TableSettings = { width: columns, height, measure: state.measure, sort: state.sort, unit: state.unit };

  let body: ReactElement;
  if (state.help) {
    body = <HelpOverlay height={height + 1} captured={report.source.interfaces} uncaptured={(report.uncapturedInterfaces ?? []).map((u) => u.name)} {...(ownersFrom ? { ownersFrom } : {})} {...(namesFrom ? { namesFrom } : {})} />;
  } else if (state.detail) {
    body = <ConnectionTable rows={connectionRows(report, options, state.detail.pid)} settings={settings} showOwner={false} />;
  } else if (state.view === 'processes') {
    const processes = processRows(report, options);
    const selected = processes[selectedIndex(state, processes)];
    body = <ProcessTable rows={processes} settings={settings} selectedKey={selected?.key ?? null} bySubscriber={report.by === 'host'} />;
  } else if (state.view === 'applications') {
    body = <ApplicationTable rows={applicationRows(report, options)} settings={settings} />;
  } else if (state.view === 'connections') {
    body = <ConnectionTable rows={connectionRows(report, options)} settings={settings} showOwner />;
  } else {
    body = <HostTable rows={hostRows(report, options)} settings={settings} />;
  }

  return (
    <Box flexDirection="column" width={columns}>
      <LiveHeader
        width={columns}
        interfaces={report.interfaces}
        uncaptured={uncapturedWithTraffic(report)}
        paused={paused}
        unit={state.unit}
        status={{
          unknownShare: unknownShare(report),
          elapsedSeconds: frame.elapsedSeconds,
          intervalSeconds: frame.intervalSeconds,
          view: viewTitle(state),
          sort: state.sort,
          measure: state.measure,
          unit: state.unit,
          filter: state.editingFilter ? '' : state.filter,
        }}
      />
      {titleLines > 0 && state.detail ? (
        <Text bold wrap="truncate-end">
          {`Connections of ${state.detail.pid} ${state.detail.name}  (Esc to go back)`}
        </Text>
      ) : null}
      {body}
      <Footer state={state} width={columns} />
    </Box>
  );
}

/** The footer's key hints; the least needed go first when the terminal is narrow ('?' and 'q' stay). */
const FOOTER_HINTS: readonly Segment[] = [
  { text: 'u/d/t sort', priority: 7 },
  { text: 'm rate/total', priority: 5 },
  { text: 'b bits', priority: 2 },
  { text: 'v view', priority: 8 },
  { text: '/ filter', priority: 6 },
  { text: 'p pause', priority: 4 },
  { text: 'Esc top', priority: 3 },
  { text: '? help', priority: 9 },
  { text: 'q quit', priority: 10 },
];

function Footer({ state, width }: { state: LiveState; width: number }) {
  if (state.editingFilter) {
    return (
      <Text wrap="truncate-end">
        {`/${state.filter}▏  Enter keeps · Esc clears`}
      </Text>
    );
  }
  // Each hint and each '·' is a flex item one space apart: 3 characters between two hints.
  const hints = segmentsToFit(FOOTER_HINTS, width, 3);
  return (
    <Box width={width} columnGap={1} overflow="hidden">
      {hints.flatMap((hint, i) => [
        ...(i > 0 ? [<Text key={`· ${hint.text}`} dimColor>·</Text>] : []),
        <Box key={hint.text} flexShrink={0}>
          <Text dimColor>{hint.text}</Text>
        </Box>,
      ])}
    </Box>
  );
}
