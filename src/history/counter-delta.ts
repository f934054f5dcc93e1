// The difference between two readings of a counter that only grows — except when it is
// reset (reboot, driver reload, the interface re-created, a 32-bit counter wrapping) or its
// source restarted. A drop is taken as a reset and the new value as counted from zero, so a
// difference is never negative and never the near-2^64 of unsigned arithmetic across a reset.

import type { UsageCounts } from './usage-key.js';

/** Bytes or packets counted since `before`; `now` itself after a reset; 0 for a reading that is no number. */
export function counterDelta(before: number, now: number): number {
  if (!Number.isFinite(now) || now < 0) return 0;
  if (!Number.isFinite(before) || before < 0) return now;
  return now >= before ? now - before : now;
}

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
