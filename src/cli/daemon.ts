// `sudo netmeter daemon`: captures without a screen (for systemd) and, every minute, adds
// what each application, user and interface moved — and the kernel's interface counters —
// to the history database; rolls old rows up hourly. SIGTERM or SIGINT: the capture stops,
// everything counted so far is written, and it exits 0.

import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { readKernelCounters } from '../capture/kernel-counters.js';
import { checkCapturePrivileges } from '../capture/privilege.js';
import { describeOwnerSources } from '../attribute/owner-sources.js';
import { hourStart } from '../history/calendar.js';
import { loadConfig, type HistoryConfig } from '../history/config.js';
import { closeHistory, describeSqliteError, openHistoryForWriting, type HistoryDb } from '../history/database.js';
import { MeterTotals } from '../history/meter-totals.js';
import { defaultConfigPath, defaultDatabasePath } from '../history/paths.js';
import { HistoryRecorder, type InterfaceReading } from '../history/recorder.js';
import { rollUp } from '../history/rollup.js';
import { captureOptions, captureOptionsHelp, liveCaptureOptions, LOCAL_OPTION_HELP, startLiveCapture } from './live-capture.js';
import { parseDuration } from './options.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

/** Connections quiet this long leave the flow table (their bytes stay counted), as in the live view. */
const IDLE_CONNECTION_SECONDS = 300;

export const DAEMON_HELP = `Usage: sudo netmeter daemon [options]

Records, each minute, the bytes every application sent and received (per user and
interface) and the kernel's interface counters into a history database, for
netmeter report. Runs until SIGTERM or Ctrl-C, then writes what is left. See docs/history.md.

${captureOptionsHelp('default: every interface that is up', 'and has an address')}
${LOCAL_OPTION_HELP}
  --db PATH            the database (default /var/lib/netmeter/netmeter.db as root,
                       else $XDG_STATE_HOME/netmeter/netmeter.db)
  --config PATH        retention settings (default /etc/netmeter/config.json)
`;

export async function runDaemon(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...captureOptions,
      db: { type: 'string' },
      config: { type: 'string' },
      // Advanced, for tests: write more often than once a minute.
      'flush-interval': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(DAEMON_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const flushMs = (parseDuration('flush-interval', values['flush-interval']) ?? 60) * 1000;
  const captureConfig = liveCaptureOptions(values);
  checkCapturePrivileges(captureConfig.interfaces); // before anything is created: no database, no directory
  const context = { uid: process.getuid?.() ?? -1, env: process.env, home: homedir() };
  const config = values.config !== undefined ? loadConfig(values.config, true) : loadConfig(defaultConfigPath(context, existsSync), false);
  const path = values.db ?? defaultDatabasePath(context);

  // The database first: a path that cannot be written fails before any capture starts.
  const db = openHistoryForWriting(path);
  let capture: Awaited<ReturnType<typeof startLiveCapture>>;
  try {
    capture = await startLiveCapture(captureConfig);
  } catch (error) {
    closeHistory(db);
    throw error;
  }
  const { devices, meter, attribution, source } = capture;
  const recorder = new HistoryRecorder(db, new MeterTotals(meter, { drainRetired: true }), { clock: () => Date.now(), bootId: await readBootId() });
  const log = (line: string): void => {
    io.stderr.write(`netmeter daemon: ${line}\n`);
  };

  const keeper = new HistoryKeeper(db, path, recorder, config, devices, log);
  await keeper.flush(); // the kernel counters' starting point is stored at once
  keeper.rollUpIfDue();

  const pump = (async () => {
    for await (const batch of source.batches()) meter.ingest(batch);
  })();
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Said once SIGTERM is handled: a supervisor that stops the daemon on seeing it loses nothing.
  log(`recording ${devices.join(', ')} into ${path} every ${flushMs / 1000}s; owners from ${describeOwnerSources(attribution.connectEventsUnavailable)}`);
  pump.then(stop, stop);

  // Flushes fall on whole intervals of the clock (hh:mm:00 for a minute), so each minute row
  // holds that minute; a chain of timeouts rather than setInterval keeps them aligned.
  let timer: NodeJS.Timeout | undefined;
  let flushing = Promise.resolve();
  const schedule = () => {
    const now = Date.now();
    timer = setTimeout(() => {
      flushing = flushing
        .then(async () => {
          meter.retireIdle(Date.now() / 1000 - IDLE_CONNECTION_SECONDS);
          await keeper.flush();
          keeper.rollUpIfDue();
        })
        // Whatever went wrong, the next tick tries again: a daemon that silently stops writing is worse.
        .catch((error: unknown) => log(`flush: ${error instanceof Error ? error.message : String(error)}`));
      schedule();
    }, Math.ceil((now + 1) / flushMs) * flushMs - now);
  };
  schedule();
  attribution.startPeriodicRefresh();

  await stopped;
  clearTimeout(timer);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await source.close();
  let failure: unknown;
  await pump.catch((error: unknown) => (failure = error));
  attribution.close();
  // Every packet the capture delivered is in the meter now: the last flush writes it all.
  await flushing;
  const written = await keeper.flush();
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
    private readonly config: HistoryConfig,
    private readonly devices: string[],
    private readonly log: (line: string) => void,
  ) {}

  /** True when written; a failure keeps the traffic pending for the next flush. */
  async flush(): Promise<boolean> {
    const readings: InterfaceReading[] = [];
    for (const name of this.devices) {
      const counters = await readKernelCounters(name);
      if (counters) readings.push({ name, counters });
    }
    try {
      this.recorder.flush(readings);
      return true;
    } catch (error) {
      this.log(`${describeSqliteError(this.path, 'write', error).message} (kept; retrying at the next flush)`);
      return false;
    }
  }

  /** Once an hour (and at start): minute rows past their retention become hours, and so on. */
  rollUpIfDue(): void {
    const now = Math.floor(Date.now() / 1000);
    const hour = hourStart(now);
    if (hour === this.lastRollUpHour) return;
    try {
      rollUp(this.db, now, this.config.retention);
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
