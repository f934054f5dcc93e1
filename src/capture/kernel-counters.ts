// The kernel's own interface counters (/sys/class/net/IF/statistics), read beside the
// capture so that capture loss shows as the difference, and turned into "since start"
// totals that survive counter resets.

import { join } from 'node:path';
import { counterDelta } from '../account/counters.js';
import { readKernelFile } from '../kernel-file.js';
import { isPlainInterfaceName } from './capture-interfaces.js';

export interface KernelCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

const FILES: ReadonlyArray<[keyof KernelCounters, string]> = [
  ['rxBytes', 'rx_bytes'],
  ['txBytes', 'tx_bytes'],
  ['rxPackets', 'rx_packets'],
  ['txPackets', 'tx_packets'],
  ['rxDropped', 'rx_dropped'],
  ['txDropped', 'tx_dropped'],
];

/** The counters of interface `name`, or undefined when it has none (gone, or no such interface). */
export async function readKernelCounters(name: string, sysRoot = '/sys/class/net'): Promise<KernelCounters | undefined> {
  if (!isPlainInterfaceName(name)) return undefined;
  const dir = join(sysRoot, name, 'statistics');
  try {
    // Synchronous (kernel-file.ts): six sysfs files of a few bytes, once a second.
    const values = FILES.map(([, file]) => readKernelFile(join(dir, file)));
    const counters = zeroCounters();
    for (const [i, [key]] of FILES.entries()) {
      const value = Number(values[i]!.trim());
      if (!Number.isFinite(value) || value < 0) return undefined;
      counters[key] = value;
    }
    return counters;
  } catch {
    return undefined;
  }
}

export function zeroCounters(): KernelCounters {
  return { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, rxDropped: 0, txDropped: 0 };
}

/** Totals since the first reading; a counter that goes down was reset (counterDelta). */
export class KernelCounterDelta {
  private last: KernelCounters | undefined;
  private readonly total = zeroCounters();

  /** Takes a reading and returns the totals since the first one (all zero on the first). */
  update(reading: KernelCounters): KernelCounters {
    if (this.last) {
      for (const [key] of FILES) {
        this.total[key] += counterDelta(this.last[key], reading[key]);
      }
    }
    this.last = { ...reading };
    return this.sinceStart;
  }

  get sinceStart(): KernelCounters {
    return { ...this.total };
  }
}
