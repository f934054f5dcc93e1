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
import { addCounts, usageKeyOf, usageKeyText, zeroCounts, type UsageCounts, type UsageKey, type UsageTotal, type UsageSource, type UserNameOf } from './usage-key.js';
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

/** A row's four counts, in this order. */
const SENT_BYTES = 0;
const RECEIVED_BYTES = 1;
const SENT_PACKETS = 2;
const RECEIVED_PACKETS = 3;

/**
 * Rows of four counts in one Float64Array (growing by doubling; rows freed are reused).
 * A count kept in an object's field is a boxed number that V8 allocates anew at each
 * update: with 22,000 records credited a scrape, that was most of the totals' CPU and
 * garbage (docs/benchmarks.md, "Per-subscriber metrics"); here the doubles change in place.
 */
class CountRows {
  values = new Float64Array(4 * 256);
  private size = 0;
  private readonly free: number[] = [];

  /** A row of zeros; `values` may be a new array after it. */
  allocate(): number {
    const row = this.free.pop() ?? this.size++;
    if ((row + 1) * 4 > this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values.fill(0, row * 4, row * 4 + 4);
    return row;
  }

  release(row: number): void {
    this.free.push(row);
  }

  add(row: number, counts: UsageCounts): void {
    const v = this.values;
    const at = row * 4;
    v[at + SENT_BYTES] += counts.sentBytes;
    v[at + RECEIVED_BYTES] += counts.receivedBytes;
    v[at + SENT_PACKETS] += counts.sentPackets;
    v[at + RECEIVED_PACKETS] += counts.receivedPackets;
  }
}

/** A history key and the row of its cumulative counts. */
interface KeyTotal {
  key: UsageKey;
  row: number;
}

/**
 * Where a live record's bytes go: the total of its owner's key, looked up again only when
 * the owner changes (found late), and the row of what it has been credited so far. A
 * scrape of 20,000 records then does arithmetic per record, no key text nor allocation.
 */
interface RecordCredit {
  owner: ConnectionRecord['owner'];
  total: KeyTotal;
  row: number;
}

export class MeterTotals implements UsageSource {
  private readonly cumulative = new Map<string, KeyTotal>();
  /** The cumulative counts per key (KeyTotal.row). */
  private readonly sums = new CountRows();
  /** What each live record has been credited so far. */
  private readonly credited = new Map<ConnectionRecord, RecordCredit>();
  /** The counts credited to live records (RecordCredit.row). */
  private readonly credits = new CountRows();
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
    const v = this.sums.values;
    const out: UsageTotal[] = [];
    // Literals of two fixed shapes: `{ ...key, sentBytes, ... }` took V8's slow path, ~5 µs a key.
    for (const { key, row } of this.cumulative.values()) {
      const { app, exe, user, interface: iface, host } = key;
      const sentBytes = v[row * 4 + SENT_BYTES]!;
      const receivedBytes = v[row * 4 + RECEIVED_BYTES]!;
      const sentPackets = v[row * 4 + SENT_PACKETS]!;
      const receivedPackets = v[row * 4 + RECEIVED_PACKETS]!;
      out.push(
        host === undefined
          ? { app, exe, user, interface: iface, sentBytes, receivedBytes, sentPackets, receivedPackets }
          : { app, exe, user, interface: iface, host, sentBytes, receivedBytes, sentPackets, receivedPackets },
      );
    }
    return out;
  }

  /** The cumulative total of the key an owner's traffic on an interface is filed under. */
  private totalOf(record: { owner: ConnectionRecord['owner']; interfaceName: string }): KeyTotal {
    const key = usageKeyOf(record.owner, record.interfaceName, this.userName);
    const text = usageKeyText(key);
    let total = this.cumulative.get(text);
    if (!total) this.cumulative.set(text, (total = { key, row: this.sums.allocate() }));
    return total;
  }

  /** Credits what the record gained since its last credit to its owner's key now. */
  private creditRecord(record: ConnectionRecord, credit: RecordCredit): void {
    if (credit.owner !== record.owner) {
      credit.owner = record.owner;
      credit.total = this.totalOf(record);
    }
    const t = this.sums.values;
    const c = this.credits.values;
    const to = credit.total.row * 4;
    const from = credit.row * 4;
    const sentBytes = record.sent.bytes;
    const receivedBytes = record.received.bytes;
    const sentPackets = record.sent.packets;
    const receivedPackets = record.received.packets;
    t[to + SENT_BYTES] += sentBytes - c[from + SENT_BYTES]!;
    t[to + RECEIVED_BYTES] += receivedBytes - c[from + RECEIVED_BYTES]!;
    t[to + SENT_PACKETS] += sentPackets - c[from + SENT_PACKETS]!;
    t[to + RECEIVED_PACKETS] += receivedPackets - c[from + RECEIVED_PACKETS]!;
    c[from + SENT_BYTES] = sentBytes;
    c[from + RECEIVED_BYTES] = receivedBytes;
    c[from + SENT_PACKETS] = sentPackets;
    c[from + RECEIVED_PACKETS] = receivedPackets;
  }

  private update(): void {
    // Records gone from the flow table were retired: their final counts are still on the
    // record, and the rest of their retired entry's growth is records retired before this
    // class ever saw them (connections that opened and went idle between two flushes).
    const knownGrowth = new Map<string, UsageCounts>();
    this.meter.takeChanges(
      (record) => {
        let credit = this.credited.get(record);
        if (!credit) this.credited.set(record, (credit = { owner: record.owner, total: this.totalOf(record), row: this.credits.allocate() }));
        this.creditRecord(record, credit);
      },
      (record) => {
        const credit = this.credited.get(record);
        if (!credit) return;
        this.credited.delete(record);
        this.creditRecord(record, credit);
        this.credits.release(credit.row);
        const key = retiredKey(record.owner, record.interfaceName);
        const growth = knownGrowth.get(key) ?? zeroCounts();
        addCounts(growth, countsOf(record));
        knownGrowth.set(key, growth);
      },
    );
    for (const [key, entry] of this.meter.retired) {
      const now = countsOf(entry.traffic);
      const unseen = minus(minus(now, this.retiredSeen.get(key) ?? zeroCounts()), knownGrowth.get(key) ?? zeroCounts());
      this.sums.add(this.totalOf({ owner: entry.process, interfaceName: entry.interfaceName }).row, unseen);
      if (this.options.drainRetired) {
        this.meter.retired.delete(key);
        this.retiredSeen.delete(key);
      } else {
        this.retiredSeen.set(key, now);
      }
    }
  }
}
