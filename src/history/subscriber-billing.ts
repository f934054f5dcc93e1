// Cost and quota per subscriber (`--by host`, the history setting "subscribers"): each
// subscriber a plan names is billed on its own, with the same machinery as the whole
// host (billing.ts), on its captured bytes on the billed interfaces — the kernel's
// interface counters cannot be split by subscriber.

import type { HistoryDb } from './database.js';
import { computeBilling, type Billing } from './billing.js';
import type { HistoryConfig, SubscriberPlan } from './config.js';
import { queryUsage } from './queries.js';
import { cidrContains, parseCidr } from '../decode/address.js';

export interface SubscriberBilling extends Billing {
  host: string;
  /** The plan's host as the config writes it (a CIDR may stand for many subscribers). */
  plan: string;
}

/** The first plan whose host contains the subscriber's (its address, or its IPv6 prefix's network). */
export function planOf(plans: readonly SubscriberPlan[], host: string): SubscriberPlan | undefined {
  const subscriber = parseCidr(host);
  if (!subscriber) return undefined;
  return plans.find((p) => p.cidr.prefix <= subscriber.prefix && cidrContains(p.cidr, subscriber.bytes));
}

/** Every subscriber with traffic in the billing period under way at `now` that a plan names, by bytes. */
export function subscriberBilling(db: HistoryDb, config: HistoryConfig, now: number): SubscriberBilling[] {
  const plans = config.subscribers ?? [];
  if (plans.length === 0) return [];
  const period = computeBilling(config, 0, now);
  const rows = queryUsage(db, { since: period.periodStart, until: Math.min(period.periodEnd, now + 1) }, 'host', {}, config.interfaces);
  const out: SubscriberBilling[] = [];
  for (const row of rows) {
    const plan = row.host ? planOf(plans, row.host) : undefined;
    if (!plan) continue;
    const { quotaGB: _hostQuota, pricePerGB: hostPrice, ...rest } = config;
    const price = plan.pricePerGB ?? hostPrice;
    const own: HistoryConfig = { ...rest, ...(plan.quotaGB !== undefined ? { quotaGB: plan.quotaGB } : {}), ...(price !== undefined ? { pricePerGB: price } : {}) };
    out.push({ host: row.host!, plan: plan.host, ...computeBilling(own, row.billedBytes, now) });
  }
  return out.sort((a, b) => b.usedBytes - a.usedBytes || a.host.localeCompare(b.host));
}
