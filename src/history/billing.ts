// Cost and quota of the current billing period: bytes used so far, what they cost, how much
// of the quota is used and left, and a linear projection to the period's end. Pure: the
// caller supplies the bytes and the time.

import { billingPeriod } from './calendar.js';
import { GB, type HistoryConfig } from './config.js';

export interface Billing {
  periodStart: number;
  periodEnd: number;
  /** Days of the period gone by, with a fraction for the current day. */
  elapsedDays: number;
  periodDays: number;
  usedBytes: number;
  projectedBytes: number;
  currency: string;
  pricePerGB?: number;
  cost?: number;
  projectedCost?: number;
  quotaBytes?: number;
  quotaLeftBytes?: number;
  quotaUsedPercent?: number;
  /** The projection goes over the quota. */
  projectedOverQuota?: boolean;
}

/** Is there anything to bill: a price or a quota. */
export function hasBilling(config: HistoryConfig): boolean {
  return config.pricePerGB !== undefined || config.quotaGB !== undefined;
}

export function costOf(bytes: number, pricePerGB: number): number {
  return (bytes / GB) * pricePerGB;
}

/**
 * `usedBytes` is what the period has used up to `now` (seconds). The projection assumes the
 * rest of the period goes on at the average rate so far: used × period length ÷ time elapsed.
 */
export function computeBilling(config: HistoryConfig, usedBytes: number, now: number): Billing {
  const { start, end } = billingPeriod(now, config.billingDay);
  const elapsed = Math.min(Math.max(now - start, 0), end - start);
  const projectedBytes = elapsed > 0 ? Math.round((usedBytes * (end - start)) / elapsed) : usedBytes;
  const billing: Billing = {
    periodStart: start,
    periodEnd: end,
    elapsedDays: elapsed / 86400,
    periodDays: Math.round((end - start) / 86400),
    usedBytes,
    projectedBytes,
    currency: config.currency,
  };
  if (config.pricePerGB !== undefined) {
    billing.pricePerGB = config.pricePerGB;
    billing.cost = costOf(usedBytes, config.pricePerGB);
    billing.projectedCost = costOf(projectedBytes, config.pricePerGB);
  }
  if (config.quotaGB !== undefined) {
    const quota = Math.round(config.quotaGB * GB);
    billing.quotaBytes = quota;
    billing.quotaLeftBytes = Math.max(quota - usedBytes, 0);
    billing.quotaUsedPercent = (usedBytes / quota) * 100;
    billing.projectedOverQuota = projectedBytes > quota;
  }
  return billing;
}

/** Not billed unless the config lists it: a provider never sees loopback traffic. */
export const LOOPBACK = 'lo';

/**
 * Whether an interface is billed: the config's `interfaces` when given, else every one but
 * loopback. The cost column and the billing period both go by it (queries.ts has its SQL twin).
 */
export function isBilledInterface(config: HistoryConfig, name: string): boolean {
  return config.interfaces ? config.interfaces.includes(name) : name !== LOOPBACK;
}

/** Which interfaces' kernel counters are billed: the configured ones, else all but loopback. */
export function billedInterfaces(config: HistoryConfig, recorded: string[]): string[] {
  return config.interfaces ?? recorded.filter((name) => isBilledInterface(config, name));
}

/**
 * Why recorded interfaces are not billed and how to bill them, in one sentence; undefined
 * when every recorded interface is billed. `configPath`: where the setting goes.
 */
export function leftOutText(config: HistoryConfig, recorded: readonly string[], configPath: string): string | undefined {
  const leftOut = [...new Set(recorded)].filter((name) => !isBilledInterface(config, name)).sort();
  if (leftOut.length === 0) return undefined;
  const names = leftOut.join(', ');
  const verb = leftOut.length === 1 ? 'is' : 'are';
  if (config.interfaces) return `${names} ${verb} not billed: not in the history setting "interfaces" of ${configPath}; add ${leftOut.length === 1 ? 'it' : 'them'} there to bill ${leftOut.length === 1 ? 'it' : 'them'}`;
  const billed = JSON.stringify([...new Set(recorded)].sort());
  return `${names} ${verb} left out by default; to bill ${leftOut.length === 1 ? 'it' : 'them'}, set the history setting "interfaces": ${billed} in ${configPath}`;
}
