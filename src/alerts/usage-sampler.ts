// What the alert engine's usage detectors take from the daemon at each flush: the billing
// period so far (quota, projection), each program's rate since the last sample (hog), and
// what the capture saw and lost on each interface meanwhile (capture loss).

import { isBilledInterface } from '../history/billing.js';
import { billingPeriod } from '../history/calendar.js';
import type { HistoryConfig } from '../history/config.js';
import type { HistoryDb } from '../history/database.js';
import { queryInterfaces } from '../history/queries.js';
import type { CaptureSession } from '../session/capture-session.js';
import type { UsageSample } from './types.js';

export class UsageSampler {
  private lastAt: number | undefined;
  private readonly programBytes = new Map<string, number>();
  private readonly capturedPackets = new Map<string, number>();
  private readonly dropped = new Map<string, number>();

  constructor(
    private readonly session: CaptureSession,
    private readonly db: HistoryDb,
    private readonly history: () => HistoryConfig,
  ) {}

  /** The sample at `at` (wall clock, ms); rates and losses are since the previous one. */
  sample(at: number): UsageSample {
    const sample: UsageSample = { at };
    const history = this.history();
    if (history.quotaGB !== undefined) {
      const period = billingPeriod(Math.floor(at / 1000), history.billingDay);
      const usedBytes = queryInterfaces(this.db, { since: period.start, until: period.end })
        .filter((row) => isBilledInterface(history, row.interface))
        .reduce((sum, row) => sum + row.rxBytes + row.txBytes, 0);
      sample.quota = { periodStart: period.start * 1000, periodEnd: period.end * 1000, usedBytes, quotaBytes: Math.round(history.quotaGB * 1e9) };
    }
    const seconds = this.lastAt === undefined ? 0 : (at - this.lastAt) / 1000;
    this.lastAt = at;
    const programs: NonNullable<UsageSample['programs']> = [];
    for (const t of this.session.usageTotals()) {
      const key = `${t.app}\u0000${t.interface}`;
      const bytes = t.sentBytes + t.receivedBytes;
      const before = this.programBytes.get(key);
      this.programBytes.set(key, bytes);
      if (before !== undefined && seconds > 0) programs.push({ app: t.app, interface: t.interface, bytesPerSecond: (bytes - before) / seconds });
    }
    if (programs.length > 0) sample.programs = programs;
    const capture: NonNullable<UsageSample['capture']> = [];
    const dropped = this.session.droppedPackets();
    for (const [name, traffic] of this.session.meter.interfaces) {
      const packets = traffic.sent.packets + traffic.received.packets;
      const lost = dropped.get(name) ?? 0;
      const before = { packets: this.capturedPackets.get(name), lost: this.dropped.get(name) ?? 0 };
      this.capturedPackets.set(name, packets);
      this.dropped.set(name, lost);
      if (before.packets !== undefined) capture.push({ interface: name, packets: packets - before.packets, dropped: lost - before.lost });
    }
    if (capture.length > 0) sample.capture = capture;
    return sample;
  }
}
