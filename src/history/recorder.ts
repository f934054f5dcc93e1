// The daemon's writer: at each flush, what every application, user and interface moved
// since the last flush (the growth of cumulative totals) and what the kernel counted on
// each interface, added to the current minute's rows in one transaction. What a flush
// could not write (a lock, a full disk) stays pending and goes into the next one, since
// the recorder only moves its baselines forward after a commit.

import type { HistoryDb } from './database.js';
import { interfaceDelta, usageDelta, type InterfaceCounts } from './counter-delta.js';
import { minuteStart } from './calendar.js';
import { isZero, usageKeyText, type UsageCounts, type UsageSource, type UsageTotal } from './usage-key.js';

/** One interface's raw kernel counters (/sys/class/net/IF/statistics) at flush time. */
export interface InterfaceReading {
  name: string;
  counters: InterfaceCounts;
}

export interface RecorderOptions {
  /** Milliseconds since the epoch; tests pass a fake one. */
  clock: () => number;
  /**
   * This boot's id (/proc/sys/kernel/random/boot_id). Kernel counters stored in the same
   * boot are continued from, so a restarted daemon loses nothing in between; after a reboot
   * the counters restarted from zero, and everything they show counts.
   */
  bootId?: string;
}

export interface FlushResult {
  /** Start of the minute the flush's traffic was added to (seconds). */
  minute: number;
  usageRows: number;
  interfaceRows: number;
  sentBytes: number;
  receivedBytes: number;
}

interface BaselineRow extends InterfaceCounts {
  interface: string;
  boot_id: string;
}

export class HistoryRecorder {
  /** Cumulative totals as of the last commit, per key. */
  private readonly committed = new Map<string, UsageCounts>();
  /** Raw kernel counters as of the last commit, per interface. */
  private readonly kernelBefore = new Map<string, InterfaceCounts>();
  private readonly seriesIds = new Map<string, number>();
  /** When the traffic not yet written began (ms): its minute is where the next flush adds it. */
  private pendingSince: number;
  private readonly statements: ReturnType<typeof prepareStatements>;

  constructor(
    private readonly db: HistoryDb,
    private readonly source: UsageSource,
    private readonly options: RecorderOptions,
  ) {
    this.pendingSince = options.clock();
    this.statements = prepareStatements(db);
    this.loadKernelBaselines();
  }

  /**
   * Writes what happened since the last flush. Throws what SQLite throws (the caller says
   * so and flushes again later: nothing pending is lost).
   */
  flush(readings: InterfaceReading[] = []): FlushResult {
    const now = this.options.clock();
    const minute = minuteStart(Math.floor(this.pendingSince / 1000));
    const totals: UsageTotal[] = [...this.source.totals()];
    const usage: Array<{ key: string; total: UsageTotal; delta: UsageCounts }> = [];
    for (const total of totals) {
      const key = usageKeyText(total);
      const delta = usageDelta(this.committed.get(key) ?? { sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 }, total);
      usage.push({ key, total, delta });
    }
    const kernel = readings.map((reading) => {
      const before = this.kernelBefore.get(reading.name);
      // An interface seen for the first time: this reading is where its counting starts.
      const delta = before ? interfaceDelta(before, reading.counters) : { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
      return { reading, delta };
    });

    const result: FlushResult = { minute, usageRows: 0, interfaceRows: 0, sentBytes: 0, receivedBytes: 0 };
    const newSeries = new Map<string, number>();
    this.db.transaction(() => {
      for (const { key, total, delta } of usage) {
        if (isZero(delta)) continue;
        const series = this.seriesIds.get(key) ?? newSeries.get(key) ?? this.seriesId(total);
        if (!this.seriesIds.has(key)) newSeries.set(key, series);
        this.statements.usage.run(minute, series, delta.sentBytes, delta.receivedBytes, delta.sentPackets, delta.receivedPackets);
        result.usageRows++;
        result.sentBytes += delta.sentBytes;
        result.receivedBytes += delta.receivedBytes;
      }
      for (const { reading, delta } of kernel) {
        if (delta.rxBytes || delta.txBytes || delta.rxPackets || delta.txPackets) {
          this.statements.kernel.run(minute, reading.name, delta.rxBytes, delta.txBytes, delta.rxPackets, delta.txPackets);
          result.interfaceRows++;
        }
        const c = reading.counters;
        this.statements.baseline.run(reading.name, this.options.bootId ?? '', c.rxBytes, c.txBytes, c.rxPackets, c.txPackets, Math.floor(now / 1000));
      }
    }).immediate();

    // Committed: only now do the baselines move (a failed flush leaves them, and its traffic pending).
    for (const [key, id] of newSeries) this.seriesIds.set(key, id);
    for (const { key, total } of usage) {
      this.committed.set(key, { sentBytes: total.sentBytes, receivedBytes: total.receivedBytes, sentPackets: total.sentPackets, receivedPackets: total.receivedPackets });
    }
    for (const { reading } of kernel) this.kernelBefore.set(reading.name, { ...reading.counters });
    this.pendingSince = now;
    return result;
  }

  private seriesId(key: UsageTotal): number {
    const host = key.host ?? '';
    this.statements.insertSeries.run(key.app, key.exe, key.user, key.interface, host);
    return this.statements.series.get(key.app, key.exe, key.user, key.interface, host)!.id;
  }

  private loadKernelBaselines(): void {
    const rows = this.db.prepare<BaselineRow>(
      'SELECT interface, boot_id, rx_bytes AS rxBytes, tx_bytes AS txBytes, rx_packets AS rxPackets, tx_packets AS txPackets FROM kernel_baseline',
    ).all();
    const bootId = this.options.bootId;
    if (bootId === undefined || bootId === '') return; // without a boot id a stored reading cannot be trusted to continue
    for (const row of rows) {
      const zero = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
      this.kernelBefore.set(row.interface, row.boot_id === bootId ? { rxBytes: row.rxBytes, txBytes: row.txBytes, rxPackets: row.rxPackets, txPackets: row.txPackets } : zero);
    }
  }
}

function prepareStatements(db: HistoryDb) {
  return {
    insertSeries: db.prepare('INSERT INTO series (app, exe, user, interface, host) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    series: db.prepare<{ id: number }>('SELECT id FROM series WHERE app = ? AND exe = ? AND user = ? AND interface = ? AND host = ?'),
    usage: db.prepare(`INSERT INTO usage_minute (start, series, sent_bytes, received_bytes, sent_packets, received_packets)
      VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (start, series) DO UPDATE SET
        sent_bytes = sent_bytes + excluded.sent_bytes, received_bytes = received_bytes + excluded.received_bytes,
        sent_packets = sent_packets + excluded.sent_packets, received_packets = received_packets + excluded.received_packets`),
    kernel: db.prepare(`INSERT INTO kernel_minute (start, interface, rx_bytes, tx_bytes, rx_packets, tx_packets)
      VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (start, interface) DO UPDATE SET
        rx_bytes = rx_bytes + excluded.rx_bytes, tx_bytes = tx_bytes + excluded.tx_bytes,
        rx_packets = rx_packets + excluded.rx_packets, tx_packets = tx_packets + excluded.tx_packets`),
    baseline: db.prepare(`INSERT OR REPLACE INTO kernel_baseline (interface, boot_id, rx_bytes, tx_bytes, rx_packets, tx_packets, read_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`),
  };
}
