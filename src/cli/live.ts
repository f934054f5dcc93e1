// `sudo netmeter`: a capture session on the chosen interfaces and, every interval, its
// usage report with rates — shown in the Ink screen on a terminal, or printed as tables,
// JSON or JSON lines for scripts.

import { writeReportJson } from '../present/report-json.js';
import { describeOwnerSources } from '../attribute/owner-sources.js';
import { renderUsageTable } from '../present/usage-table.js';
import type { UsageReport } from '../present/usage-report.js';
import { LiveFeedStore } from '../present/live/live-feed.js';
import { ProcessIdleClock } from '../present/live/process-idle.js';
import { UncapturedInterfaces } from '../capture/uncaptured-interfaces.js';
import { CaptureSession } from '../session/capture-session.js';
import { stopControl } from '../session/stop-control.js';
import { systemSessionIo } from '../session/system-io.js';
import { NAMES_FROM, RemoteNames } from '../resolve/remote-names.js';
import { systemClock } from '../clock.js';
import { CAPTURE_OPTIONS, interfaceOption, liveCaptureOptions, LOCAL_OPTION, SUBSCRIBER_OPTIONS, subscriberOptions } from './capture-options.js';
import { HELP_OPTION, parseCommandLine, renderHelp, type CommandSpec } from './command-line.js';
import { parseDuration, parsePositiveInteger, parseSortKey } from './options.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

export const LIVE_COMMAND = {
  name: 'live',
  synopsis: '[options]',
  privileged: true,
  summary: 'live view of which programs use the network',
  description: 'Shows, live, which programs use the network.',
  operands: 'none',
  options: [
    interfaceOption('capture on IF (repeatable; default: every interface that is up\nand has an address, loopback only when named: -i lo)'),
    ...CAPTURE_OPTIONS,
    { name: 'interval', type: 'string', value: 'D', help: 'refresh every D (default 1s)' },
    { name: 'once', type: 'boolean', help: 'print one report after one interval and exit' },
    { name: 'duration', type: 'string', value: 'D', help: 'run for D (30s, 5m, 1h), then print the totals over the whole run' },
    { name: 'json', type: 'boolean', help: 'print the JSON document (with --once or --duration: one at the end)' },
    { name: 'jsonl', type: 'boolean', help: 'print one JSON document per interval: totals since start, and\nwhat that interval alone added under "interval"' },
    { name: 'sort', type: 'string', value: 'KEY', complete: ['sent', 'received', 'total'], help: 'sent, received or total' },
    { name: 'top', type: 'string', value: 'N', help: 'only the N largest rows (tables)' },
    { name: 'no-resolve', type: 'boolean', help: 'no host names: no reverse lookups (which tell your DNS resolver\nthe hosts you talk to), no DNS answers read, no remoteName in JSON' },
    LOCAL_OPTION,
    ...SUBSCRIBER_OPTIONS,
    HELP_OPTION,
  ],
} as const satisfies CommandSpec;

export const LIVE_HELP = renderHelp(LIVE_COMMAND);

export async function runLive(argv: string[], io: CommandIo & { isTTY: boolean }): Promise<number> {
  const { values, positionals } = parseCommandLine(LIVE_COMMAND, argv);
  if (values.help) {
    io.stdout.write(LIVE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.json && values.jsonl) throw new UsageError('give --json or --jsonl, not both');
  const intervalSeconds = parseDuration('interval', values.interval) ?? 1;
  const durationSeconds = parseDuration('duration', values.duration) ?? (values.once ? intervalSeconds : undefined);
  const sort = parseSortKey(values.sort);
  const top = parsePositiveInteger('top', values.top);
  const capture = { ...liveCaptureOptions(values), ...subscriberOptions(values) };
  const interactive = io.isTTY && !values.json && !values.jsonl && durationSeconds === undefined;
  // A failed re-read of /proc is said once per kind of failure, off the interactive screen.
  // Lines said before the screen is up (--by host without --local) are still seen.
  const warned = new Set<string>();
  let screenUp = false;
  const warn = (line: string) => {
    if (screenUp || warned.has(line)) return;
    warned.add(line);
    io.stderr.write(`netmeter: warning: ${line}\n`);
  };
  const sessionIo = systemSessionIo();
  const session = await CaptureSession.start(
    {
      ...capture,
      keepRetired: true,
      tickSeconds: intervalSeconds,
      onProcError: (error) => warn(`reading /proc failed, owners may be missing: ${error instanceof Error ? error.message : String(error)}`),
      onNotice: warn,
    },
    sessionIo,
  );
  // Host names: DNS answers seen on the captured devices, then reverse lookups (not with --no-resolve).
  const names = values['no-resolve']
    ? undefined
    : new RemoteNames({ open: (o) => sessionIo.openSource(o), clock: systemClock, promisc: capture.promisc ?? false, onNotice: warn, ...(capture.engine ? { engine: capture.engine } : {}) });
  if (names) {
    await names.follow(session.devices);
    // Devices come and go with the default set: their DNS answers are watched with them.
    session.onTick(() => void names.follow(session.devices));
  }
  // The first report opens the screen: every amount zero, the kernel counters' baselines set.
  const feed = new LiveFeedStore({ report: session.report(), elapsedSeconds: 0, intervalSeconds });
  const control = stopControl(session, durationSeconds);

  let ink: { unmount(): void } | undefined;
  if (interactive) {
    // Loaded only for the screen: Ink and React are ~38 MB of memory that --json, --jsonl
    // and the plain table never use. React's development build (what it loads unless told
    // otherwise) checks and records every render: it doubled the idle screen's CPU.
    process.env.NODE_ENV ??= 'production';
    const [{ createElement }, { render }, { LiveApp }] = await Promise.all([import('react'), import('ink'), import('../present/live/live-app.js')]);
    const initialState = { sort: sort === 'sent' ? ('upload' as const) : sort === 'received' ? ('download' as const) : ('total' as const) };
    const namesFrom = names ? NAMES_FROM : 'nowhere: --no-resolve (addresses only)';
    ink = render(createElement(LiveApp, { feed, onQuit: control.stop, initialState, ownersFrom: ownersFrom(session), namesFrom }), { exitOnCtrlC: false });
    screenUp = true;
  }
  // Reports every interval only when someone sees them: with --json/--duration alone only
  // the last one is printed (the session still ticks: idle connections retire, kernel
  // counters are read, so a counter reset in between is seen).
  const perInterval = interactive || values.jsonl || (!values.json && durationSeconds === undefined);
  // For the screen: how long each process has been quiet (exited ones leave rate mode), and
  // lo's kernel counters while it is not captured (the header says so).
  const idle = new ProcessIdleClock();
  const uncaptured = new UncapturedInterfaces();
  if (perInterval) {
    session.onTick(async (tick) => {
      const report = session.report();
      names?.label(report);
      if (ink) {
        idle.mark(report, tick.elapsedSeconds);
        const notCaptured = await uncaptured.read(session.devices, tick.seconds);
        if (notCaptured.length > 0) report.uncapturedInterfaces = notCaptured;
        feed.publish({ report, elapsedSeconds: report.durationSeconds, intervalSeconds });
      } else if (values.jsonl) io.stdout.write(`${JSON.stringify(withOwners(report, session))}\n`);
      else io.stdout.write(`${renderUsageTable(report, { sort, ...(top ? { top } : {}) })}\n`);
    });
  }

  await control.stopped;
  ink?.unmount();
  const failure = await session.stop();
  await names?.close();
  // With --once/--duration the run's totals; with --json alone, those up to Ctrl-C.
  if (!interactive && !values.jsonl && (durationSeconds !== undefined || values.json)) {
    await session.readCounters();
    const report = session.report({ wholeRun: true });
    names?.label(report, false);
    if (values.json) writeReportJson(withOwners(report, session), (text) => io.stdout.write(text));
    else io.stdout.write(renderUsageTable(report, { sort, ...(top ? { top } : {}) }));
  }
  if (failure) throw failure;
  return 0;
}

/** For the help screen: where owners come from, and why not the kernel's hooks when not. */
function ownersFrom(session: CaptureSession): string {
  const sources = session.attribution.ownerSources;
  return sources ? describeOwnerSources(sources) : '/proc';
}

/** The JSON report says where owners came from (source.owners), for scripts and the accuracy harness. */
function withOwners(report: UsageReport, session: CaptureSession): UsageReport {
  const owners = session.attribution.ownerSources;
  return owners ? { ...report, source: { ...report.source, owners } } : report;
}
