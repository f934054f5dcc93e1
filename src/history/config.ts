// The config file's `history` section (documented in docs/history.md): price per GB and
// currency, billing day, monthly quota, which interfaces are billed, and retention. Every
// value is checked, and a bad one is named with the file in one line. The file itself is
// read by src/config/config-file.ts.

import { NetmeterError } from '../errors.js';
import { DEFAULT_RETENTION, type Retention } from './rollup.js';
import { isObject, showValue } from '../config/config-values.js';
import { parseCidr, type Cidr } from '../decode/address.js';

export class ConfigError extends NetmeterError {
  override name = 'ConfigError';
}

/** Providers bill in decimal units: 1 GB = 10^9 bytes. */
export const GB = 1e9;

export interface HistoryConfig {
  currency: string;
  pricePerGB?: number;
  /** Day of the month a billing period starts (1-31; a shorter month's last day stands in). */
  billingDay: number;
  quotaGB?: number;
  /** Interfaces whose kernel counters are billed; undefined: all but loopback. */
  interfaces?: string[];
  retention: Retention;
  /** Per-subscriber plans (`--by host`): the first whose `host` contains a subscriber is its own. */
  subscribers?: SubscriberPlan[];
}

/** A subscriber's plan: each subscriber `host` contains (an address, or a CIDR for many) is billed on its own. */
export interface SubscriberPlan {
  /** As written: "198.18.1.2", "198.18.1.0/24", "fd00:1::/64". */
  host: string;
  cidr: Cidr;
  quotaGB?: number;
  /** Default: the history's pricePerGB. */
  pricePerGB?: number;
}

export const DEFAULT_CONFIG: HistoryConfig = { currency: '', billingDay: 1, retention: DEFAULT_RETENTION };

export const HISTORY_KEYS = ['currency', 'pricePerGB', 'billingDay', 'quotaGB', 'interfaces', 'retention', 'subscribers'];
const SUBSCRIBER_KEYS = ['host', 'quotaGB', 'pricePerGB'];
const SUBSCRIBER_EXAMPLE = '[{"host": "198.18.1.2", "quotaGB": 50}, {"host": "fd00:1::/64", "quotaGB": 50}]';
const RETENTION_KEYS = ['minuteDays', 'hourDays', 'dayDays'];

/** Checks a parsed `history` section; `where` starts every error message. */
export function parseHistoryConfig(value: unknown, where: string): HistoryConfig {
  if (!isObject(value)) throw new ConfigError(`${where}: must be a JSON object like {"pricePerGB": 0.5, "currency": "EUR"}`);
  for (const key of Object.keys(value)) {
    if (!HISTORY_KEYS.includes(key)) throw new ConfigError(`${where}: unknown setting '${key}' (known: ${HISTORY_KEYS.join(', ')})`);
  }
  const config: HistoryConfig = { ...DEFAULT_CONFIG };
  if (value.currency !== undefined) {
    if (typeof value.currency !== 'string' || value.currency.length > 12) throw new ConfigError(`${where}: currency must be a short text like "EUR" or "$" (got ${showValue(value.currency)})`);
    config.currency = value.currency;
  }
  if (value.pricePerGB !== undefined) config.pricePerGB = number(where, 'pricePerGB', value.pricePerGB, 0, false);
  if (value.quotaGB !== undefined) {
    config.quotaGB = number(where, 'quotaGB', value.quotaGB, 0, true);
  }
  if (value.billingDay !== undefined) {
    const day = value.billingDay;
    if (typeof day !== 'number' || !Number.isInteger(day) || day < 1 || day > 31) {
      throw new ConfigError(`${where}: billingDay must be a whole number from 1 to 31 (got ${showValue(day)})`);
    }
    config.billingDay = day;
  }
  if (value.interfaces !== undefined) {
    const list = value.interfaces;
    if (!Array.isArray(list) || list.some((i) => typeof i !== 'string' || i === '')) {
      throw new ConfigError(`${where}: interfaces must be a list of interface names like ["eth0", "wlan0"] (got ${showValue(list)})`);
    }
    config.interfaces = list as string[];
  }
  if (value.retention !== undefined) config.retention = parseRetention(value.retention, where);
  if (value.subscribers !== undefined) config.subscribers = parseSubscribers(value.subscribers, where);
  return config;
}

function parseSubscribers(value: unknown, where: string): SubscriberPlan[] {
  if (!Array.isArray(value)) throw new ConfigError(`${where}: subscribers must be a list like ${SUBSCRIBER_EXAMPLE}`);
  return value.map((entry: unknown, i) => {
    const at = `subscribers[${i}]`;
    if (!isObject(entry)) throw new ConfigError(`${where}: ${at} must be an object like {"host": "198.18.1.2", "quotaGB": 50}`);
    for (const key of Object.keys(entry)) {
      if (!SUBSCRIBER_KEYS.includes(key)) throw new ConfigError(`${where}: unknown setting '${key}' in ${at} (known: ${SUBSCRIBER_KEYS.join(', ')})`);
    }
    const cidr = typeof entry.host === 'string' ? parseCidr(entry.host) : undefined;
    if (!cidr) throw new ConfigError(`${where}: ${at}.host must be an address or CIDR like "198.18.1.2" or "fd00:1::/64" (got ${showValue(entry.host)})`);
    const plan: SubscriberPlan = { host: entry.host as string, cidr };
    if (entry.quotaGB !== undefined) plan.quotaGB = number(where, `${at}.quotaGB`, entry.quotaGB, 0, true);
    if (entry.pricePerGB !== undefined) plan.pricePerGB = number(where, `${at}.pricePerGB`, entry.pricePerGB, 0, false);
    if (plan.quotaGB === undefined && plan.pricePerGB === undefined) throw new ConfigError(`${where}: ${at} gives neither quotaGB nor pricePerGB`);
    return plan;
  });
}

function parseRetention(value: unknown, where: string): Retention {
  if (!isObject(value)) throw new ConfigError(`${where}: retention must be an object like {"minuteDays": 7, "hourDays": 90, "dayDays": null}`);
  for (const key of Object.keys(value)) {
    if (!RETENTION_KEYS.includes(key)) throw new ConfigError(`${where}: unknown retention setting '${key}' (known: ${RETENTION_KEYS.join(', ')})`);
  }
  const days = (key: string, fallback: number) => (value[key] === undefined ? fallback : number(where, `retention.${key}`, value[key], 0, true) * 86400);
  const minuteSeconds = days('minuteDays', DEFAULT_RETENTION.minuteSeconds);
  const hourSeconds = days('hourDays', DEFAULT_RETENTION.hourSeconds);
  const daySeconds = value.dayDays === undefined || value.dayDays === null ? null : number(where, 'retention.dayDays', value.dayDays, 0, true) * 86400;
  // Rows only ever get coarser: a finer resolution kept longer than a coarser one would have
  // nowhere to go.
  if (hourSeconds < minuteSeconds) throw new ConfigError(`${where}: retention.hourDays must be at least retention.minuteDays`);
  if (daySeconds !== null && daySeconds < hourSeconds) throw new ConfigError(`${where}: retention.dayDays must be at least retention.hourDays (or null: forever)`);
  return { minuteSeconds, hourSeconds, daySeconds };
}

function number(where: string, key: string, value: unknown, min: number, strict: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (strict ? value <= min : value < min)) {
    throw new ConfigError(`${where}: ${key} must be a number ${strict ? 'above' : 'of at least'} ${min} (got ${showValue(value)})`);
  }
  return value;
}


