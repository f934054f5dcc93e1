// The meter's traffic as cumulative totals per history key (application, user, interface)
// that only ever grow, so the recorder can store the difference each minute.
//
// Summing records + retired per owner at each flush is not enough: a record found "unknown"
// and attributed later (a short-lived socket, the next /proc read) would move its bytes from
// '(unknown)' to the application, and (unknown)'s total would go down — a negative minute, or,
// clamped, bytes counted twice. So each record's bytes are credited, flush by flush, to the
// key of its owner *at that flush*; what was credited stays where it was.
//
// Kept incrementally: each update credits only the records the meter says changed since
// the last one (Meter.takeChanges), so a scrape of a large, mostly quiet flow table costs
// what moved, not what is held.

import type { ConnectionRecord, RetiredTraffic } from '../account/meter.js';
import { retiredKey } from '../account/meter.js';
import type { Traffic } from '../account/counters.js';
import { addCounts, usageKeyOf, usageKeyText, zeroCounts, type UsageCounts, type UsageTotal, type UsageSource, type UserNameOf } from './usage-key.js';
import { UserNames } from '../attribute/proc/user-names.js';

/** What MeterTotals reads of a Meter. */
export interface MeterView {
  takeChanges(changed: (record: ConnectionRecord) => void, retired: (record: ConnectionRecord) => void): void;
  readonly retired: Map<string, RetiredTraffic>;
}

export interface MeterTotalsOptions {
  /**
   * Remove retired entries from the meter once credited. The daemon's meter is read by
   * nothing else, and without this every short-lived process would leave an entry behind
   * for as long as the daemon runs.
   */
  drainRetired?: boolean;
  /** uid → user name; default /etc/passwd's (UserNames), so "root" and "0" are one user. */
  userName?: UserNameOf;
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

/**
 * What a live record has been credited so far, and where its bytes go: the total of its
 * owner's key, looked up again only when the owner changes (found late). A scrape of
 * 20,000 records then does arithmetic per record, no key text nor allocation.
 */
interface RecordCredit extends UsageCounts {
  owner: ConnectionRecord['owner'];
  total: UsageTotal;
}

export class MeterTotals implements UsageSource {
  private readonly cumulative = new Map<string, UsageTotal>();
  /** What each live record has been credited so far. */
  private readonly credited = new Map<ConnectionRecord, RecordCredit>();
  /** Each retired entry's traffic when last read (entries only grow). */
  private readonly retiredSeen = new Map<string, UsageCounts>();
  private readonly userName: UserNameOf;

  constructor(
    private readonly meter: MeterView,
    private readonly options: MeterTotalsOptions = {},
  ) {
    if (options.userName) {
      this.userName = options.userName;
    } else {
      const users = new UserNames();
      this.userName = (uid) => users.name(uid);
    }
  }

  totals(): UsageTotal[] {
    this.update();
    return [...this.cumulative.values()].map((t) => ({ ...t }));
  }

  /** The cumulative total of the key an owner's traffic on an interface is filed under. */
  private totalOf(record: { owner: ConnectionRecord['owner']; interfaceName: string }): UsageTotal {
    const key = usageKeyOf(record.owner, record.interfaceName, this.userName);
    const text = usageKeyText(key);
    let total = this.cumulative.get(text);
    if (!total) this.cumulative.set(text, (total = { ...key, ...zeroCounts() }));
    return total;
  }

  /** Credits what the record gained since its last credit to its owner's key now. */
  private creditRecord(record: ConnectionRecord, credit: RecordCredit): void {
    if (credit.owner !== record.owner) {
      credit.owner = record.owner;
      credit.total = this.totalOf(record);
    }
    const total = credit.total;
    total.sentBytes += record.sent.bytes - credit.sentBytes;
    total.receivedBytes += record.received.bytes - credit.receivedBytes;
    total.sentPackets += record.sent.packets - credit.sentPackets;
    total.receivedPackets += record.received.packets - credit.receivedPackets;
    credit.sentBytes = record.sent.bytes;
    credit.receivedBytes = record.received.bytes;
    credit.sentPackets = record.sent.packets;
    credit.receivedPackets = record.received.packets;
  }

  private update(): void {
    // Records gone from the flow table were retired: their final counts are still on the
    // record, and the rest of their retired entry's growth is records retired before this
    // class ever saw them (connections that opened and went idle between two flushes).
    const knownGrowth = new Map<string, UsageCounts>();
    this.meter.takeChanges(
      (record) => {
        let credit = this.credited.get(record);
        if (!credit) this.credited.set(record, (credit = { ...zeroCounts(), owner: record.owner, total: this.totalOf(record) }));
        this.creditRecord(record, credit);
      },
      (record) => {
        const credit = this.credited.get(record);
        if (!credit) return;
        this.credited.delete(record);
        this.creditRecord(record, credit);
        const key = retiredKey(record.owner, record.interfaceName);
        const growth = knownGrowth.get(key) ?? zeroCounts();
        addCounts(growth, countsOf(record));
        knownGrowth.set(key, growth);
      },
    );
    for (const [key, entry] of this.meter.retired) {
      const now = countsOf(entry.traffic);
      const unseen = minus(minus(now, this.retiredSeen.get(key) ?? zeroCounts()), knownGrowth.get(key) ?? zeroCounts());
      addCounts(this.totalOf({ owner: entry.process, interfaceName: entry.interfaceName }), unseen);
      if (this.options.drainRetired) {
        this.meter.retired.delete(key);
        this.retiredSeen.delete(key);
      } else {
        this.retiredSeen.set(key, now);
      }
    }
  }
}
