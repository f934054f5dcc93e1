// The config file's `metrics` section (docs/fleet/README.md): where the daemon serves
// /metrics, how many applications get series of their own, and optional basic auth and
// TLS. Pure: checks the parsed value in one line per problem; the files it names (password,
// certificate, key) are read when the exporter starts (metrics-listen.ts).

import { ConfigError } from '../history/config.js';
import { isObject, showValue } from '../config/config-values.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface MetricsConfig {
  /** Where to serve /metrics; undefined: only when `daemon --metrics` asks. */
  listen?: ListenAddress;
  /** Applications given series of their own in one daemon run; the rest are app="other". */
  topApplications: number;
  basicAuth?: { user: string; passwordFile: string };
  tls?: { certFile: string; keyFile: string };
  /** `daemon --by host`: whether subscribers get series of their own, and at most how many. */
  subscribers: SubscriberMetricsConfig;
}

export interface SubscriberMetricsConfig {
  enabled: boolean;
  /** Subscribers given series of their own in one daemon run; the rest are host="other". */
  max: number;
}

export const DEFAULT_TOP_APPLICATIONS = 20;
export const DEFAULT_MAX_SUBSCRIBERS = 1000;
export const MAX_SUBSCRIBERS_LIMIT = 100_000;
export const DEFAULT_METRICS_CONFIG: MetricsConfig = { topApplications: DEFAULT_TOP_APPLICATIONS, subscribers: { enabled: false, max: DEFAULT_MAX_SUBSCRIBERS } };

const KEYS = ['listen', 'topApplications', 'basicAuth', 'tls', 'subscribers'];
const SUBSCRIBER_LIKE = '{"enabled": true, "max": 1000}';
const EXAMPLE = '{"listen": "127.0.0.1:9417", "topApplications": 20}';

/** Checks a parsed `metrics` section; `where` starts every error message. */
export function parseMetricsConfig(value: unknown, where: string): MetricsConfig {
  if (!isObject(value)) throw new ConfigError(`${where}: must be a JSON object like ${EXAMPLE}`);
  for (const key of Object.keys(value)) {
    if (!KEYS.includes(key)) throw new ConfigError(`${where}: unknown setting '${key}' (known: ${KEYS.join(', ')})`);
  }
  const config: MetricsConfig = { ...DEFAULT_METRICS_CONFIG };
  if (value.listen !== undefined) {
    if (typeof value.listen !== 'string') throw new ConfigError(`${where}: listen must be an address and port like "127.0.0.1:9417" (got ${showValue(value.listen)})`);
    config.listen = parseListenAddress(value.listen, `${where}: listen`);
  }
  if (value.topApplications !== undefined) {
    const n = value.topApplications;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 10_000) {
      throw new ConfigError(`${where}: topApplications must be a whole number from 0 to 10000 (got ${showValue(n)})`);
    }
    config.topApplications = n;
  }
  if (value.subscribers !== undefined) config.subscribers = parseSubscriberMetrics(value.subscribers, where);
  if (value.basicAuth !== undefined) {
    const auth = value.basicAuth;
    const like = '{"user": "prometheus", "passwordFile": "/etc/netmeter/metrics-password"}';
    if (!isObject(auth)) throw new ConfigError(`${where}: basicAuth must be an object like ${like}`);
    const unknown = Object.keys(auth).find((k) => k !== 'user' && k !== 'passwordFile');
    if (unknown !== undefined) throw new ConfigError(`${where}: unknown basicAuth setting '${unknown}' (known: user, passwordFile)`);
    if (typeof auth.user !== 'string' || auth.user === '' || auth.user.includes(':')) {
      throw new ConfigError(`${where}: basicAuth.user must be a non-empty name without ':' (got ${showValue(auth.user)}); like ${like}`);
    }
    config.basicAuth = { user: auth.user, passwordFile: path(where, 'basicAuth.passwordFile', auth.passwordFile) };
  }
  if (value.tls !== undefined) {
    const tls = value.tls;
    const like = '{"certFile": "/etc/netmeter/metrics.crt", "keyFile": "/etc/netmeter/metrics.key"}';
    if (!isObject(tls)) throw new ConfigError(`${where}: tls must be an object like ${like}`);
    const unknown = Object.keys(tls).find((k) => k !== 'certFile' && k !== 'keyFile');
    if (unknown !== undefined) throw new ConfigError(`${where}: unknown tls setting '${unknown}' (known: certFile, keyFile)`);
    config.tls = { certFile: path(where, 'tls.certFile', tls.certFile), keyFile: path(where, 'tls.keyFile', tls.keyFile) };
  }
  return config;
}

function parseSubscriberMetrics(value: unknown, where: string): SubscriberMetricsConfig {
  if (!isObject(value)) throw new ConfigError(`${where}: subscribers must be an object like ${SUBSCRIBER_LIKE}`);
  const unknown = Object.keys(value).find((k) => k !== 'enabled' && k !== 'max');
  if (unknown !== undefined) throw new ConfigError(`${where}: unknown subscribers setting '${unknown}' (known: enabled, max)`);
  if (value.enabled !== undefined && typeof value.enabled !== 'boolean') throw new ConfigError(`${where}: subscribers.enabled must be true or false (got ${showValue(value.enabled)})`);
  const max = value.max ?? DEFAULT_MAX_SUBSCRIBERS;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_SUBSCRIBERS_LIMIT) {
    throw new ConfigError(`${where}: subscribers.max must be a whole number from 1 to ${MAX_SUBSCRIBERS_LIMIT} (got ${showValue(max)})`);
  }
  return { enabled: value.enabled === true, max };
}

/**
 * "ADDR:PORT", "[V6ADDR]:PORT", or a bare "PORT" (then 127.0.0.1). `where` starts the error.
 * An empty address (":9417") is refused rather than read as "every interface": serving on
 * every interface is said explicitly (0.0.0.0 or [::]).
 */
export function parseListenAddress(text: string, where: string): ListenAddress {
  const bad = (why: string) =>
    new ConfigError(`${where}: ${why} (got ${showValue(text)}); give ADDRESS:PORT like 127.0.0.1:9417, [::1]:9417, or 0.0.0.0:9417 for every interface`);
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  if (bracketed) {
    [, host, portText] = bracketed as unknown as [string, string, string];
    if (!isIpv6(host)) throw bad(`'${host}' is not an IPv6 address`);
  } else if (/^\d+$/.test(text)) {
    host = '127.0.0.1';
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw bad('no port');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === '') throw bad('no address');
    if (host.includes(':')) throw bad('an IPv6 address goes in brackets');
    if (!isIpv4(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(host)) throw bad(`'${host}' is not an address or host name`);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw bad('the port must be a number from 1 to 65535');
  return { host, port };
}

/** "127.0.0.1:9417", "[::1]:9417": how an address is written back. */
export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIpv6(text: string): boolean {
  return /^[0-9A-Fa-f:.]+$/.test(text) && text.includes(':') && (text.match(/::/g) ?? []).length <= 1;
}

function path(where: string, key: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${where}: ${key} must be a file path (got ${showValue(value)})`);
  return value;
}


