// The daemon's speed tests: at each session tick, a test that SpeedtestSchedule says is due
// runs (one at a time, off the tick) against a server the config names, and its result is
// stored with how much other programs moved meanwhile, as the daemon's own meter saw it: a
// result beside other traffic above CONTENDED_SHARE of the link is flagged "contended"
// (a background download makes every speed test wrong without saying so).

import { billingPeriod } from '../history/calendar.js';
import { isBilledInterface } from '../history/billing.js';
import type { HistoryConfig } from '../history/config.js';
import type { HistoryDb } from '../history/database.js';
import { queryInterfaces } from '../history/queries.js';
import type { CaptureSession } from '../session/capture-session.js';
import type { SpeedtestConfig } from './config.js';
import type { SpeedtestResult } from './result.js';
import { runSpeedtest } from './run.js';
import { SpeedtestSchedule, type PeriodUsage } from './schedule.js';
import { PUBLIC_DEFAULTS } from './server-choice.js';
import { insertSpeedTest, speedTestBytesSince } from './store.js';

/** Other traffic above this share of what the link carried during a test makes it contended. */
export const CONTENDED_SHARE = 0.05;

export interface ScheduledTestsOptions {
  db: HistoryDb;
  session: CaptureSession;
  config: () => { speedtest: SpeedtestConfig; history: HistoryConfig };
  log: (line: string) => void;
  /** Wall clock, milliseconds. */
  now: () => number;
  random?: () => number;
  /** Runs a test (tests pass options of their own, e.g. a short measuring time). */
  run?: typeof runSpeedtest;
  /** Each stored result; `retest`: it was an early retest asked for with retest(). */
  onResult?: (result: SpeedtestResult, retest: boolean) => void;
}

export class ScheduledSpeedTests {
  private schedule: SpeedtestSchedule | undefined;
  private scheduleFor: SpeedtestConfig | undefined;
  private running: Promise<void> | undefined;
  /** Early retests asked for (the alert engine's), by when (ms) and on which server. */
  private readonly retests: Array<{ at: number; server: string | undefined }> = [];

  constructor(private readonly options: ScheduledTestsOptions) {}

  /** Asks for an early test at `at` (ms), on `server` or the first configured one. */
  retest(at: number, server?: string): void {
    this.retests.push({ at, server });
  }

  /** Starts the test that is due, if one is and none runs: a retest first, then the schedule's. */
  tick(): void {
    const { speedtest, history } = this.options.config();
    if (speedtest.servers.length === 0 || this.running) return;
    const retest = this.retests.findIndex((r) => r.at <= this.options.now());
    if (retest >= 0) {
      const { server } = this.retests.splice(retest, 1)[0]!;
      this.running = this.runOne(server ?? speedtest.servers[0]!, speedtest.maxBytesPerTest, true).finally(() => (this.running = undefined));
      return;
    }
    // A reloaded config starts a schedule of its own.
    if (this.scheduleFor !== speedtest) {
      this.scheduleFor = speedtest;
      this.schedule = new SpeedtestSchedule(speedtest, { now: () => this.options.now() / 1000, random: this.options.random ?? Math.random });
    }
    if (!this.schedule!.due()) return;
    const decision = this.schedule!.take(this.periodUsage(history));
    if (!decision.run) {
      this.options.log(`speed test ${decision.reason}`);
      return;
    }
    this.running = this.runOne(decision.server, decision.maxBytes, false).finally(() => (this.running = undefined));
  }

  /** Resolves when the test under way, if any, has been stored. */
  async idle(): Promise<void> {
    await this.running;
  }

  private async runOne(server: string, maxBytes: number, retest: boolean): Promise<void> {
    const { session, log } = this.options;
    const before = trafficSoFar(session);
    let result: SpeedtestResult;
    try {
      result = await (this.options.run ?? runSpeedtest)({
        server: { url: server, defaults: PUBLIC_DEFAULTS, selectionPings: 3 },
        maxBytes,
      });
    } catch (error) {
      log(`speed test against ${server} failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const after = trafficSoFar(session);
    const other = after.total - before.total - (after.own - before.own);
    const share = other + result.bytesUsed.total > 0 ? other / (other + result.bytesUsed.total) : 0;
    result.contention = { otherBytes: other, share, contended: share > CONTENDED_SHARE };
    try {
      insertSpeedTest(this.options.db, result);
    } catch (error) {
      log(`speed test result not stored: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.options.onResult?.(result, retest);
    const mbps = (d: SpeedtestResult['download']) => (d?.mbps === undefined || d.mbps === null ? '-' : `${d.mbps.toFixed(1)} Mbit/s`);
    log(
      `${retest ? 'retest' : 'speed test'} against ${server}: ${result.status}, down ${mbps(result.download)}, up ${mbps(result.upload)}` +
        `${result.contention.contended ? `, contended (other programs moved ${(share * 100).toFixed(0)}% of the traffic)` : ''}` +
        `${result.error ? `: ${result.error}` : ''}`,
    );
  }

  private periodUsage(history: HistoryConfig): PeriodUsage {
    const now = Math.floor(this.options.now() / 1000);
    const period = billingPeriod(now, history.billingDay);
    const usedBytes = queryInterfaces(this.options.db, { since: period.start, until: period.end })
      .filter((row) => isBilledInterface(history, row.interface))
      .reduce((sum, row) => sum + row.rxBytes + row.txBytes, 0);
    return {
      usedBytes,
      ...(history.quotaGB !== undefined ? { quotaBytes: Math.round(history.quotaGB * 1e9) } : {}),
      speedtestBytes: speedTestBytesSince(this.options.db, period.start),
    };
  }
}

/**
 * Every byte captured so far (the meter's totals only grow), and those of this process's
 * connections (the daemon's, which run the test): the test's connections stay in the flow
 * table while it runs, so the difference of two readings is what everyone else moved,
 * unknown sockets included.
 */
function trafficSoFar(session: CaptureSession): { total: number; own: number } {
  const { meter } = session;
  let own = 0;
  for (const r of meter.records()) if (r.owner?.pid === process.pid) own += r.sent.bytes + r.received.bytes;
  return { total: meter.totals.sent.bytes + meter.totals.received.bytes, own };
}
