// The alerts as the daemon runs them: the engine, the outbox in the history database and
// the notifier together, so the daemon only feeds results in, runs the retests asked for,
// calls tick() and deliver() on a timer. Restores open incidents and stored silences when
// it starts, so a restart sends no second opening message.

import type { HistoryDb } from '../history/database.js';
import { channelFor, type Channel, type ChannelOptions } from './channels/channel.js';
import type { AlertsConfig } from './config.js';
import { AlertEngine } from './engine.js';
import { Notifier } from './notifier.js';
import { AlertOutbox } from './outbox.js';
import type { Decision, LocalState, SpeedMeasurement, UsageSample } from './types.js';

export type RetestRequest = Extract<Decision, { kind: 'retest' }>;

export interface AlertServiceOptions {
  now?: () => number;
  log?: (line: string) => void;
  channels?: Channel[];
  channelOptions?: ChannelOptions;
  backoffMs?: (attempts: number) => number;
}

export class AlertService {
  readonly engine: AlertEngine;
  readonly outbox: AlertOutbox;
  private readonly notifier: Notifier;
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(db: HistoryDb, private readonly config: AlertsConfig, options: AlertServiceOptions = {}) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.engine = new AlertEngine(config);
    this.outbox = new AlertOutbox(db);
    const channels = options.channels ?? config.channels.map((c) => channelFor(c, config, options.channelOptions));
    this.notifier = new Notifier(this.outbox, channels, config.channels, { now: this.now, log: this.log, ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}) });
    // Without channels nothing is ever delivered: nothing to hold either.
    this.engine.restoreOpen(this.outbox.incidents({ open: true }), this.now(), config.channels.length > 0 ? this.outbox.heldOpenings() : new Set());
    this.engine.setSilences(this.outbox.silences(this.now()));
    const since = this.now() - config.baseline.windowDays * 86_400_000;
    this.engine.warmBaseline(this.outbox.speedResults(since, this.now() + 1), this.outbox.incidents({ since }));
  }

  /** Judges one speed test result; returns the retests the caller should run (at `at`, on `server`). */
  observeSpeed(m: SpeedMeasurement): RetestRequest[] {
    this.outbox.recordSpeed(m);
    return this.apply(this.engine.observeSpeed(m));
  }

  observeUsage(u: UsageSample): void {
    this.apply(this.engine.observeUsage(u));
  }

  observeLocal(state: LocalState): void {
    this.engine.observeLocal(state);
  }

  /** Reminders and held messages whose silence ended; picks up silences added by `netmeter alerts silence`. */
  tick(): void {
    const now = this.now();
    this.engine.setSilences(this.outbox.silences(now));
    this.apply(this.engine.tick(now));
  }

  /** Sends what is due; resolves to how many were delivered. */
  deliver(): Promise<number> {
    return this.notifier.drain();
  }

  /** When the next waiting message is due, for the caller's timer. */
  nextDelivery(): number | undefined {
    return this.outbox.nextDue();
  }

  private apply(decisions: Decision[]): RetestRequest[] {
    this.outbox.record(decisions, this.config.channels.map((c) => c.name), this.now());
    // One line per reason a result was not counted (several detectors share a result).
    const reasons = new Set(decisions.flatMap((d) => (d.kind === 'set-aside' ? [d.reason] : [])));
    for (const reason of reasons) {
      const d = decisions.find((x) => x.kind === 'set-aside' && x.reason === reason)!;
      this.log(`alerts: result of ${new Date(d.kind === 'set-aside' ? d.at : 0).toISOString()} not counted: ${reason}`);
    }
    for (const d of decisions) {
      if (d.kind === 'notify') this.log(`alerts: ${d.event.kind} ${d.event.incident.subject} (${d.event.id}): ${d.event.incident.summary}`);
      else if (d.kind === 'held') this.log(`alerts: held ${d.event.kind} ${d.event.incident.subject} (${d.event.id}): ${d.reason}`);
    }
    return decisions.filter((d): d is RetestRequest => d.kind === 'retest');
  }
}
