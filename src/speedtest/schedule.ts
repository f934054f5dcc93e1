// When the daemon runs a speed test, as pure rules with an injected clock and random
// source: every intervalMinutes moved by up to ± jitterMinutes (meters started together
// drift apart), the first one at a random point of the first interval; and whether a due
// test may run: only against servers the config names, within the byte cap per period,
// and never when its bytes could push the billing period over the quota. Times are Unix
// seconds, like the rest of the history.

import type { SpeedtestConfig } from './config.js';

export interface ScheduleClock {
  now: () => number;
  /** Uniform in [0, 1). */
  random: () => number;
}

/** The next run after `from`: one interval later, moved by up to ± the jitter. */
export function nextRunTime(from: number, config: SpeedtestConfig, random: () => number): number {
  const jitter = (random() * 2 - 1) * config.jitterMinutes * 60;
  return Math.round(from + config.intervalMinutes * 60 + jitter);
}

export interface PeriodUsage {
  /** Bytes billed so far in this billing period (every program, the tests included). */
  usedBytes: number;
  /** The period's quota in bytes; undefined: none. */
  quotaBytes?: number;
  /** Bytes the speed tests used so far in this period. */
  speedtestBytes: number;
}

export type ScheduleDecision = { run: true; server: string; maxBytes: number } | { run: false; reason: string };

/** Whether the test that is due may run, against which server (in turn), with which byte cap. */
export function decideScheduledRun(config: SpeedtestConfig, usage: PeriodUsage, runIndex: number): ScheduleDecision {
  if (config.servers.length === 0) return { run: false, reason: 'no servers in the config (speedtest.servers): scheduled tests use only servers named there' };
  const cost = config.maxBytesPerTest;
  if (config.maxBytesPerPeriod !== undefined && usage.speedtestBytes + cost > config.maxBytesPerPeriod) {
    return { run: false, reason: `skipped: another test (up to ${mb(cost)}) would pass the ${mb(config.maxBytesPerPeriod)} speed tests may use this billing period (${mb(usage.speedtestBytes)} used)` };
  }
  if (usage.quotaBytes !== undefined && usage.usedBytes + cost > usage.quotaBytes) {
    return { run: false, reason: `skipped: a test (up to ${mb(cost)}) could push the billing period over its quota (${mb(usage.usedBytes)} of ${mb(usage.quotaBytes)} used)` };
  }
  return { run: true, server: config.servers[runIndex % config.servers.length]!, maxBytes: cost };
}

/** The daemon's timer state: when the next test is due. */
export class SpeedtestSchedule {
  private nextAt: number;
  private runs = 0;

  constructor(
    private readonly config: SpeedtestConfig,
    private readonly clock: ScheduleClock,
  ) {
    // A random point in the first interval, so a fleet restarted at once does not test at once.
    this.nextAt = Math.round(clock.now() + clock.random() * config.intervalMinutes * 60);
  }

  get next(): number {
    return this.nextAt;
  }

  due(): boolean {
    return this.clock.now() >= this.nextAt;
  }

  /** Decides the due test and plans the next one, whether this one runs or is skipped. */
  take(usage: PeriodUsage): ScheduleDecision {
    const decision = decideScheduledRun(this.config, usage, this.runs);
    if (decision.run) this.runs++;
    this.nextAt = nextRunTime(this.clock.now(), this.config, this.clock.random);
    return decision;
  }
}

function mb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(0)} MB`;
}
