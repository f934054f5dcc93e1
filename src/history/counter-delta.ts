// The growth of the history's cumulative readings between two flushes — the kernel's
// interface counters and the meter's usage totals — by the one reset rule (counterDelta).

import { counterDelta } from '../account/counters.js';
import type { UsageCounts } from './usage-key.js';

export interface InterfaceCounts {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

export function interfaceDelta(before: InterfaceCounts, now: InterfaceCounts): InterfaceCounts {
  // rx and tx of a reset interface drop together, but each is judged alone: one may have
  // counted past its old value before the first reading after the reset.
  return {
    rxBytes: counterDelta(before.rxBytes, now.rxBytes),
    txBytes: counterDelta(before.txBytes, now.txBytes),
    rxPackets: counterDelta(before.rxPackets, now.rxPackets),
    txPackets: counterDelta(before.txPackets, now.txPackets),
  };
}

/**
 * Growth of an application's cumulative totals. The source's totals only fall when it was
 * restarted (a new meter), and then all four fall to what the new one counted: all four
 * are taken from zero together, so bytes and packets stay consistent.
 */
export function usageDelta(before: UsageCounts, now: UsageCounts): UsageCounts {
  const reset = now.sentBytes < before.sentBytes || now.receivedBytes < before.receivedBytes ||
    now.sentPackets < before.sentPackets || now.receivedPackets < before.receivedPackets;
  const from = reset ? { sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 } : before;
  return {
    sentBytes: counterDelta(from.sentBytes, now.sentBytes),
    receivedBytes: counterDelta(from.receivedBytes, now.receivedBytes),
    sentPackets: counterDelta(from.sentPackets, now.sentPackets),
    receivedPackets: counterDelta(from.receivedPackets, now.receivedPackets),
  };
}
