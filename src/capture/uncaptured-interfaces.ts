// The loopback interfaces a live capture leaves out (lo is captured only when named, -i lo):
// their kernel counters since start and rates, so the screen can say that traffic is there
// and how to see it. Nothing of them is captured; only /sys/class/net/IF/statistics is read.

import { interfaceIsLoopback, listInterfaces } from './capture-interfaces.js';
import { KernelCounterDelta, readKernelCounters } from './kernel-counters.js';

/** libpcap's pseudo-device that captures every interface, loopback included. */
const ANY_DEVICE = 'any';

export interface UncapturedCounters {
  name: string;
  /** Kernel counters since this interface was first read. */
  rxBytes: number;
  txBytes: number;
  /** Bytes per second since the previous read (0 on the first). */
  rxRate: number;
  txRate: number;
}

export class UncapturedInterfaces {
  /** Per loopback ever read: its counters since the first read, and their value at the previous read. */
  private readonly seen = new Map<string, { delta: KernelCounterDelta; rxBytes: number; txBytes: number }>();

  constructor(private readonly sysRoot = '/sys/class/net') {}

  /**
   * The loopbacks not among `captured` (the devices captured now), with their counters
   * since first read and rates over `seconds` since the previous read. One whose counters
   * cannot be read (gone) is left out.
   */
  async read(captured: readonly string[], seconds: number): Promise<UncapturedCounters[]> {
    if (captured.includes(ANY_DEVICE)) return [];
    const out: UncapturedCounters[] = [];
    for (const name of listInterfaces(this.sysRoot)) {
      if (captured.includes(name) || !interfaceIsLoopback(name, this.sysRoot)) continue;
      const reading = await readKernelCounters(name, this.sysRoot);
      if (!reading) continue;
      let entry = this.seen.get(name);
      if (!entry) this.seen.set(name, (entry = { delta: new KernelCounterDelta(), rxBytes: 0, txBytes: 0 }));
      const since = entry.delta.update(reading);
      const rate = (now: number, then: number) => (seconds > 0 ? (now - then) / seconds : 0);
      out.push({ name, rxBytes: since.rxBytes, txBytes: since.txBytes, rxRate: rate(since.rxBytes, entry.rxBytes), txRate: rate(since.txBytes, entry.txBytes) });
      entry.rxBytes = since.rxBytes;
      entry.txBytes = since.txBytes;
    }
    return out;
  }
}
