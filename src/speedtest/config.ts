// The `speedtest` section of netmeter's config file (docs/speedtest.md): the servers the
// daemon tests (only these: scheduled tests never use public volunteer servers by default),
// how often, the byte caps, the subscribed plan (per interface if plans differ), and
// replacements for the interactive command's public defaults. Checked here as a pure
// function; a bad value is one ConfigError line that starts with `where`.

import { ConfigError } from '../history/config.js';
import { isObject, showValue } from '../config/config-values.js';

export interface PlanSpeeds {
  planDownloadMbps?: number;
  planUploadMbps?: number;
}

export interface SpeedtestConfig extends PlanSpeeds {
  /** Server base URLs (LibreSpeed or Cloudflare-style) the daemon tests; empty: no scheduled tests. */
  servers: string[];
  /** Minutes between scheduled tests. */
  intervalMinutes: number;
  /** Each interval is moved by a random amount up to ± this, so many meters do not test at once. */
  jitterMinutes: number;
  /** A scheduled test stops moving data at this many bytes (decimal MB in the file). */
  maxBytesPerTest: number;
  /** Scheduled tests together use at most this many bytes per billing period (decimal GB in the file); undefined: no cap. */
  maxBytesPerPeriod?: number;
  /** Plans that differ per WAN interface override the top-level plan. */
  interfacePlans: Record<string, PlanSpeeds>;
  defaultServer?: string;
  defaultServerList?: string;
}

export const DEFAULT_SPEEDTEST_CONFIG: SpeedtestConfig = { servers: [], intervalMinutes: 360, jitterMinutes: 30, maxBytesPerTest: 500e6, interfacePlans: {} };

const KEYS = ['servers', 'intervalMinutes', 'jitterMinutes', 'maxMBPerTest', 'maxGBPerPeriod', 'planDownloadMbps', 'planUploadMbps', 'interfaces', 'defaultServer', 'defaultServerList'];
const PLAN_KEYS = ['planDownloadMbps', 'planUploadMbps'];

export function parseSpeedtestConfig(value: unknown, where: string): SpeedtestConfig {
  if (!isObject(value)) throw new ConfigError(`${where}: speedtest must be an object like {"servers": ["https://speedtest.example.net/"], "intervalMinutes": 360}`);
  for (const key of Object.keys(value)) {
    if (!KEYS.includes(key)) throw new ConfigError(`${where}: unknown speedtest setting '${key}' (known: ${KEYS.join(', ')})`);
  }
  const config: SpeedtestConfig = { ...DEFAULT_SPEEDTEST_CONFIG, interfacePlans: {} };
  if (value.servers !== undefined) {
    const list = value.servers;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || !isHttpUrl(s))) {
      throw new ConfigError(`${where}: speedtest.servers must be a list of http:// or https:// URLs (got ${showValue(list)})`);
    }
    config.servers = list as string[];
  }
  if (value.intervalMinutes !== undefined) config.intervalMinutes = positive(where, 'intervalMinutes', value.intervalMinutes);
  if (value.jitterMinutes !== undefined) config.jitterMinutes = atLeastZero(where, 'jitterMinutes', value.jitterMinutes);
  if (config.jitterMinutes >= config.intervalMinutes) throw new ConfigError(`${where}: speedtest.jitterMinutes must be less than intervalMinutes (${config.intervalMinutes})`);
  if (value.maxMBPerTest !== undefined) config.maxBytesPerTest = positive(where, 'maxMBPerTest', value.maxMBPerTest) * 1e6;
  if (value.maxGBPerPeriod !== undefined) config.maxBytesPerPeriod = positive(where, 'maxGBPerPeriod', value.maxGBPerPeriod) * 1e9;
  if (config.maxBytesPerPeriod !== undefined && config.maxBytesPerPeriod < config.maxBytesPerTest) {
    throw new ConfigError(`${where}: speedtest.maxGBPerPeriod is less than one test's maxMBPerTest: no test could ever run`);
  }
  Object.assign(config, plan(where, 'speedtest', value));
  if (value.interfaces !== undefined) {
    if (!isObject(value.interfaces)) throw new ConfigError(`${where}: speedtest.interfaces must be an object like {"eth0": {"planDownloadMbps": 100}}`);
    for (const [name, entry] of Object.entries(value.interfaces)) {
      if (!isObject(entry)) throw new ConfigError(`${where}: speedtest.interfaces.${name} must be an object like {"planDownloadMbps": 100, "planUploadMbps": 20}`);
      for (const key of Object.keys(entry)) {
        if (!PLAN_KEYS.includes(key)) throw new ConfigError(`${where}: unknown setting speedtest.interfaces.${name}.${key} (known: ${PLAN_KEYS.join(', ')})`);
      }
      config.interfacePlans[name] = plan(where, `speedtest.interfaces.${name}`, entry);
    }
  }
  for (const key of ['defaultServer', 'defaultServerList'] as const) {
    const url = value[key];
    if (url === undefined) continue;
    if (typeof url !== 'string' || !isHttpUrl(url)) throw new ConfigError(`${where}: speedtest.${key} must be an http:// or https:// URL (got ${showValue(url)})`);
    config[key] = url;
  }
  return config;
}

/** The plan that applies to a test run over `iface`. */
export function planFor(config: SpeedtestConfig | undefined, iface: string | null): PlanSpeeds {
  if (!config) return {};
  const own = iface !== null ? config.interfacePlans[iface] : undefined;
  return { ...pick(config), ...(own ? pick(own) : {}) };
}

function pick(p: PlanSpeeds): PlanSpeeds {
  return { ...(p.planDownloadMbps !== undefined ? { planDownloadMbps: p.planDownloadMbps } : {}), ...(p.planUploadMbps !== undefined ? { planUploadMbps: p.planUploadMbps } : {}) };
}

function plan(where: string, at: string, value: Record<string, unknown>): PlanSpeeds {
  const out: PlanSpeeds = {};
  if (value.planDownloadMbps !== undefined) out.planDownloadMbps = positive(where, `${at}.planDownloadMbps`.replace(/^speedtest\.speedtest/, 'speedtest'), value.planDownloadMbps);
  if (value.planUploadMbps !== undefined) out.planUploadMbps = positive(where, `${at}.planUploadMbps`, value.planUploadMbps);
  return out;
}

function positive(where: string, key: string, value: unknown): number {
  const name = key.startsWith('speedtest') ? key : `speedtest.${key}`;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ConfigError(`${where}: ${name} must be a number above 0 (got ${showValue(value)})`);
  return value;
}

function atLeastZero(where: string, key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ConfigError(`${where}: speedtest.${key} must be a number of at least 0 (got ${showValue(value)})`);
  return value;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}


