// `sudo netmeter daemon`: captures without a screen (for systemd) and, every minute, adds
// what each application, user and interface moved — and the kernel's interface counters —
// to the history database; rolls old rows up hourly. SIGTERM or SIGINT: the capture stops,
// everything counted so far is written, and it exits 0.

import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { checkCapturePrivileges } from '../capture/privilege.js';
import { describeOwnerSources } from '../attribute/owner-sources.js';
import { hourStart } from '../history/calendar.js';
import type { HistoryConfig } from '../history/config.js';
import { loadConfig } from '../config/config-file.js';
import { closeHistory, describeSqliteError, openHistoryForWriting, type HistoryDb } from '../history/database.js';
import { defaultConfigPath, defaultDatabasePath } from '../history/paths.js';
import { HistoryRecorder, type InterfaceReading } from '../history/recorder.js';
import { rollUp } from '../history/rollup.js';
import { FlushSchedule } from '../history/flush-schedule.js';
import { ScheduledSpeedTests } from '../speedtest/scheduled-tests.js';
import { DaemonAlerts } from '../alerts/daemon-alerts.js';
import { UsageSampler } from '../alerts/usage-sampler.js';
import { systemClock } from '../clock.js';
import { CaptureSession } from '../session/capture-session.js';
import { stopControl } from '../session/stop-control.js';
import { systemSessionIo } from '../session/system-io.js';
import { planDaemonMetrics, startDaemonMetrics } from '../metrics/daemon-metrics.js';
import { CAPTURE_OPTIONS, interfaceOption, liveCaptureOptions, LOCAL_OPTION, SUBSCRIBER_OPTIONS, subscriberOptions } from './capture-options.js';
import { HELP_OPTION, parseCommandLine, renderHelp, type CommandSpec } from './command-line.js';
import { parseDuration } from './options.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

export const DAEMON_COMMAND = {
  name: 'daemon',
  synopsis: 'daemon [options]',
  privileged: true,
  summary: 'record usage history for reports',
  description: `Records, each minute, the bytes every application sent and received (per user and
interface) and the kernel's interface counters into a history database, for
netmeter report; runs the speed tests and alerts its config names. Runs until SIGTERM or
Ctrl-C, then writes what is left; SIGHUP reads the config again. See docs/history.md.`,
  operands: 'none',
  options: [
    interfaceOption('capture on IF (repeatable; default: every interface that is up\nand has an address, followed as interfaces come and go)'),
    ...CAPTURE_OPTIONS,
    LOCAL_OPTION,
    ...SUBSCRIBER_OPTIONS,
    { name: 'db', type: 'string', value: 'PATH', complete: 'file', help: 'the database (default /var/lib/netmeter/netmeter.db as root,\nelse $XDG_STATE_HOME/netmeter/netmeter.db)' },
    { name: 'config', type: 'string', value: 'PATH', complete: 'file', help: 'the config file (default /etc/netmeter/config.json)' },
    { name: 'metrics', type: 'string', value: 'ADDR:PORT', help: 'serve Prometheus metrics at http://ADDR:PORT/metrics (a bare PORT:\non 127.0.0.1); also the config\'s metrics.listen. docs/fleet/README.md' },
    // Advanced, for tests: write more often than once a minute.
    { name: 'flush-interval', type: 'string', value: 'D', hidden: true, help: 'write every D' },
    HELP_OPTION,
  ],
} as const satisfies CommandSpec;

export const DAEMON_HELP = renderHelp(DAEMON_COMMAND);

export async function runDaemon(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(DAEMON_COMMAND, argv);
  if (values.help) {
    io.stdout.write(DAEMON_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const flushMs = (parseDuration('flush-interval', values['flush-interval']) ?? 60) * 1000;
  const captureConfig = { ...liveCaptureOptions(values), ...subscriberOptions(values) };
  checkCapturePrivileges(captureConfig.interfaces); // before anything is created: no database, no directory
  const context = { uid: process.getuid?.() ?? -1, env: process.env, home: homedir() };
  const readConfig = () => (values.config !== undefined ? loadConfig(values.config, true) : loadConfig(defaultConfigPath(context, existsSync), false));
  let config = readConfig();
  // A command channel in a config others can change stops here, before anything is opened.
  DaemonAlerts.check(config, (line) => io.stderr.write(`netmeter daemon: ${line}\n`));
  // Checked before anything is opened: a bad address or auth file stops here.
  const metricsPlan = planDaemonMetrics(values.metrics, config);
  const path = values.db ?? defaultDatabasePath(context);

  // The database first: a path that cannot be written fails before any capture starts.
  const db = openHistoryForWriting(path);
  const log = (line: string): void => {
    io.stderr.write(`netmeter daemon: ${line}\n`);
  };
  let session: CaptureSession;
  try {
    // Ticks at least every second: a flush falls due within a second of its time.
    session = await CaptureSession.start(
      { ...captureConfig, tickSeconds: Math.min(1, flushMs / 1000), waitForInterfaces: true, onNotice: log },
      systemSessionIo(),
    );
  } catch (error) {
    closeHistory(db);
    throw error;
  }
  const clock = systemClock;
  const metrics = metricsPlan && await startDaemonMetrics(metricsPlan, {
    session, db, history: () => config.history, speedtest: () => config.speedtest, topApplications: config.metrics.topApplications, subscribers: config.metrics.subscribers, now: clock.now,
  }).catch(async (error: unknown) => {
    await session.stop();
    closeHistory(db);
    throw error;
  });
  const recorder = new HistoryRecorder(db, { totals: () => session.usageTotals() }, { clock: clock.now, bootId: await readBootId() });
  const keeper = new HistoryKeeper(db, path, recorder, () => config.history, log);
  keeper.flush(session.kernelReadings()); // the kernel counters' starting point is stored at once
  keeper.rollUpIfDue(clock.now());

  const flushes = new FlushSchedule(flushMs, clock.now());
  // Speed tests against the servers the config names, on its schedule (docs/speedtest.md),
  // each result judged by the alerts (docs/alerts.md), whose retests come back here.
  let speedTests: ScheduledSpeedTests | undefined;
  const alerts = new DaemonAlerts({ db, config: () => config, log, now: clock.now, retest: (r) => speedTests?.retest(r.at, r.server) });
  speedTests = new ScheduledSpeedTests({ db, session, config: () => config, log, now: clock.now, onResult: (result, retest) => alerts.speedResult(result, retest) });
  const usage = new UsageSampler(session, db, () => config.history);
  session.onTick(({ wallMs }) => {
    speedTests.tick();
    alerts.tick();
    if (!flushes.due(wallMs)) return;
    keeper.flush(session.kernelReadings());
    keeper.rollUpIfDue(wallMs);
    alerts.usage(usage.sample(wallMs));
  });

  // SIGHUP: read the config again; a bad one is refused and the one in use kept.
  const reload = () => {
    try {
      const fresh = readConfig();
      DaemonAlerts.check(fresh, log);
      config = fresh;
      log(`config reloaded from ${config.path ?? 'defaults'}`);
    } catch (error) {
      log(`${error instanceof Error ? error.message : String(error)} (kept the config in use)`);
    }
  };
  process.on('SIGHUP', reload);

  const control = stopControl(session);
  // Said once SIGTERM and SIGHUP are handled: a supervisor that signals on seeing it loses nothing.
  const sources = session.attribution.ownerSources;
  const owners = sources ? describeOwnerSources(sources) : '/proc';
  const per = session.subscribers ? 'per subscriber (--by host)' : `owners from ${owners}`;
  log(`recording ${session.devices.join(', ') || 'each interface as it comes up'} into ${path} every ${flushMs / 1000}s; ${per}`);
  if (metrics) log(`serving metrics at ${metrics.address}/metrics`);
  await control.stopped;
  process.off('SIGHUP', reload);
  await metrics?.close();
  // A speed test under way finishes and is stored (its sockets would keep the process alive
  // anyway); a delivery under way ends (what it did not send waits in the outbox).
  await speedTests.idle();
  await alerts.idle();
  // Every packet the capture delivered is in the meter once it stops: the last flush writes it all.
  const failure = await session.stop();
  const written = keeper.flush(session.kernelReadings());
  closeHistory(db);
  if (failure) throw failure;
  log(written ? 'stopped; everything counted is written' : 'stopped, but the last flush failed (see above)');
  return written ? 0 : 1;
}

/** Flushes and roll-ups on one connection, with their failures logged rather than fatal. */
class HistoryKeeper {
  private lastRollUpHour = Number.NaN;

  constructor(
    private readonly db: HistoryDb,
    private readonly path: string,
    private readonly recorder: HistoryRecorder,
    private readonly config: () => HistoryConfig,
    private readonly log: (line: string) => void,
  ) {}

  /** True when written; a failure keeps the traffic pending for the next flush. */
  flush(readings: InterfaceReading[]): boolean {
    try {
      this.recorder.flush(readings);
      return true;
    } catch (error) {
      this.log(`${describeSqliteError(this.path, 'write', error).message} (kept; retrying at the next flush)`);
      return false;
    }
  }

  /** Once an hour (and at start): minute rows past their retention become hours, and so on. */
  rollUpIfDue(nowMs: number): void {
    const now = Math.floor(nowMs / 1000);
    const hour = hourStart(now);
    if (hour === this.lastRollUpHour) return;
    try {
      rollUp(this.db, now, this.config().retention);
      this.lastRollUpHour = hour;
    } catch (error) {
      this.log(`roll-up: ${describeSqliteError(this.path, 'write', error).message} (retrying later)`);
    }
  }
}

/** This boot's id: kernel counters stored under another one started again from zero. */
async function readBootId(): Promise<string | undefined> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return undefined;
  }
}
