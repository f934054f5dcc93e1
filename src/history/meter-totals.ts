// The meter's traffic as cumulative totals per history key (application, user, interface)
// that only ever grow, so the recorder can store the difference each minute.
//
// Summing records + retired per owner at each flush is not enough: a record found "unknown"
// and attributed later (a short-lived socket, the next /proc read) would move its bytes from
// '(unknown)' to the application, and (unknown)'s total would go down — a negative minute, or,
// clamped, bytes counted twice. So each record's bytes are credited, flush by flush, to the
// key of its owner *at that flush*; what was credited stays where it was.

import type { ConnectionRecord, RetiredTraffic } from '../account/meter.js';
import { retiredKey } from '../account/meter.js';
import type { Traffic } from '../account/counters.js';
import { addCounts, usageKeyOf, usageKeyText, zeroCounts, type UsageCounts, type UsageTotal, type UsageSource } from './usage-key.js';

/** What MeterTotals reads of a Meter. */
export interface MeterView {
  records(): Iterable<ConnectionRecord>;
  readonly retired: Map<string, RetiredTraffic>;
}

export interface MeterTotalsOptions {
  /**
   * Remove retired entries from the meter once credited. The daemon's meter is read by
   * nothing else, and without this every short-lived process would leave an entry behind
   * for as long as the daemon runs.
   */
  drainRetired?: boolean;
}

const countsOf = (t: Traffic): UsageCounts => ({
  sentBytes: t.sent.bytes,
  receivedBytes: t.received.bytes,
  sentPackets: t.sent.packets,
  receivedPackets: t.received.packets,
});

const minus = (a: UsageCounts, b: UsageCounts): UsageCounts => ({
  sentBytes: a.sentBytes - b.sentBytes,
  receivedBytes: a.receivedBytes - b.receivedBytes,
  sentPackets: a.sentPackets - b.sentPackets,
  receivedPackets: a.receivedPackets - b.receivedPackets,
});

export class MeterTotals implements UsageSource {
  private readonly cumulative = new Map<string, UsageTotal>();
  /** What each live record has been credited so far. */
  private readonly credited = new Map<ConnectionRecord, UsageCounts>();
  /** Each retired entry's traffic when last read (entries only grow). */
  private readonly retiredSeen = new Map<string, UsageCounts>();

  constructor(
    private readonly meter: MeterView,
    private readonly options: MeterTotalsOptions = {},
  ) {}

  totals(): UsageTotal[] {
    this.update();
    return [...this.cumulative.values()].map((t) => ({ ...t }));
  }

  private credit(record: { owner: ConnectionRecord['owner']; interfaceName: string }, counts: UsageCounts): void {
    const key = usageKeyOf(record.owner, record.interfaceName);
    const text = usageKeyText(key);
    let total = this.cumulative.get(text);
    if (!total) this.cumulative.set(text, (total = { ...key, ...zeroCounts() }));
    addCounts(total, counts);
  }

  private update(): void {
    const live = new Set<ConnectionRecord>();
    for (const record of this.meter.records()) {
      live.add(record);
      const now = countsOf(record);
      this.credit(record, minus(now, this.credited.get(record) ?? zeroCounts()));
      this.credited.set(record, now);
    }
    // Records gone from the flow table were retired: their final counts are still on the
    // record, and the rest of their retired entry's growth is records retired before this
    // class ever saw them (connections that opened and went idle between two flushes).
    const knownGrowth = new Map<string, UsageCounts>();
    for (const [record, credited] of this.credited) {
      if (live.has(record)) continue;
      this.credited.delete(record);
      const final = countsOf(record);
      this.credit(record, minus(final, credited));
      const key = retiredKey(record.owner, record.interfaceName);
      const growth = knownGrowth.get(key) ?? zeroCounts();
      addCounts(growth, final);
      knownGrowth.set(key, growth);
    }
    for (const [key, entry] of this.meter.retired) {
      const now = countsOf(entry.traffic);
      const unseen = minus(minus(now, this.retiredSeen.get(key) ?? zeroCounts()), knownGrowth.get(key) ?? zeroCounts());
      this.credit({ owner: entry.process, interfaceName: entry.interfaceName }, unseen);
      if (this.options.drainRetired) {
        this.meter.retired.delete(key);
        this.retiredSeen.delete(key);
      } else {
        this.retiredSeen.set(key, now);
      }
    }
  }
}
