// The "alerts" part of the config file (docs/alerts.md): the connections and their plans,
// the detectors with their levels and confirmation, the channels messages go to, silences
// and maintenance windows. Pure: checks a parsed value and says what is wrong in one line.
// Secrets are only ever named here (a file or an environment variable), never held.

import { ConfigError } from '../history/config.js';
import { DEFAULT_BASELINE, type BaselineRule } from './baseline.js';
import type { ConfirmationRule } from './confirmation.js';
import { checkTimeZone } from './local-hour.js';
import { showValue } from '../config/config-values.js';

export type SecretRef = { file: string } | { env: string };

export interface ConnectionConfig {
  name: string;
  /** Results from this interface belong to this connection; the only connection takes all. */
  interface?: string;
  provider?: string;
  /** The subscribed plan. */
  downloadMbps?: number;
  uploadMbps?: number;
}

/** A speed level: absolute, a share of the plan, or a share of the connection's own baseline. */
export type SpeedLevel =
  | { kind: 'mbps'; mbps: number }
  | { kind: 'plan'; share: number }
  /** planFloor: a share of the plan that counts whatever the baseline, so a slow decline the baseline follows is caught. */
  | { kind: 'baseline'; share: number; planFloor?: number };

interface DetectorBase {
  name: string;
  remindEveryMs?: number;
}

export type DetectorConfig =
  | (DetectorBase & { type: 'speed'; direction: 'download' | 'upload'; below: SpeedLevel; recoverAbove: SpeedLevel; confirm: ConfirmationRule })
  | (DetectorBase & { type: 'latency'; metric: 'latency' | 'jitter' | 'loadedLatency'; aboveMs: number; recoverBelowMs: number; confirm: ConfirmationRule })
  | (DetectorBase & { type: 'outage'; confirm: ConfirmationRule })
  | (DetectorBase & { type: 'quota'; shares: number[] })
  | (DetectorBase & { type: 'projection'; minElapsedShare: number })
  | (DetectorBase & { type: 'hog'; share: number; recoverShare: number; forMs: number; linkMbps?: number })
  | (DetectorBase & { type: 'captureLoss'; share: number; recoverShare: number; forMs: number });

export type ChannelConfig =
  | { type: 'command'; name: string; command: string[] }
  | { type: 'webhook'; name: string; url: string; token?: SecretRef; attempts: number }
  | { type: 'push'; name: string; url: string; token?: SecretRef; attempts: number }
  | {
      type: 'email';
      name: string;
      to: string[];
      from: string;
      /** Written as a complaint to the provider's support; otherwise a note to the user. */
      complaint: boolean;
      smtp: { host: string; port: number; secure: boolean; user?: string; password?: SecretRef };
      attempts: number;
    };

/** A time range during which messages are held back; `detector` narrows it to one. */
export interface SilenceConfig {
  from: number;
  until: number;
  detector?: string;
  reason?: string;
}

/** Planned work: results are not counted and messages held. Absolute, or daily in local time. */
export type MaintenanceWindow = { kind: 'once'; from: number; until: number } | { kind: 'daily'; fromMinute: number; untilMinute: number };

export interface AlertsConfig {
  timeZone?: string;
  connections: ConnectionConfig[];
  /** Speed test servers: a retest goes to the next one after the server that gave a bad result. */
  servers: string[];
  retestDelayMs: number;
  /** Other programs using more than this share of the plan make a bad result a local cause. */
  saturationShare: number;
  baseline: BaselineRule;
  detectors: DetectorConfig[];
  channels: ChannelConfig[];
  silences: SilenceConfig[];
  maintenance: MaintenanceWindow[];
}

export const DEFAULT_SPEED_CONFIRM: ConfirmationRule = { bad: 5, of: 6, retests: 2, recoverAfter: 3 };
export const DEFAULT_OUTAGE_CONFIRM: ConfirmationRule = { bad: 3, of: 3, retests: 2, recoverAfter: 1 };

const TOP_KEYS = ['timeZone', 'connections', 'servers', 'retestDelayMinutes', 'saturationShare', 'baseline', 'detectors', 'channels', 'silences', 'maintenance'];
const DETECTOR_TYPES = ['speed', 'latency', 'outage', 'quota', 'projection', 'hog', 'captureLoss'];
const CHANNEL_TYPES = ['command', 'webhook', 'email', 'push'];

/**
 * Checks the config file's `alerts` section; `where` starts every error message and names
 * the section ("config /etc/netmeter/config.json: alerts"), settings follow it with a dot.
 */
export function parseAlertsConfig(value: unknown, where: string): AlertsConfig {
  const at = where;
  if (value === undefined) value = {};
  const o = object(value, at, '{"connections": [...], "detectors": [...], "channels": [...]}');
  known(o, TOP_KEYS, at);
  const config: AlertsConfig = {
    connections: [],
    servers: [],
    retestDelayMs: 5 * 60_000,
    saturationShare: 0.5,
    baseline: { ...DEFAULT_BASELINE },
    detectors: [],
    channels: [],
    silences: [],
    maintenance: [],
  };
  if (o.timeZone !== undefined) {
    const zone = text(o.timeZone, `${at}.timeZone`);
    try {
      checkTimeZone(zone);
    } catch {
      throw new ConfigError(`${at}.timeZone: '${zone}' is not a time zone this system knows (like "Europe/Berlin")`);
    }
    config.timeZone = zone;
  }
  if (o.retestDelayMinutes !== undefined) config.retestDelayMs = range(o.retestDelayMinutes, `${at}.retestDelayMinutes`, 0.1, 120) * 60_000;
  if (o.saturationShare !== undefined) config.saturationShare = range(o.saturationShare, `${at}.saturationShare`, 0.01, 1);
  if (o.servers !== undefined) config.servers = list(o.servers, `${at}.servers`).map((s, i) => text(s, `${at}.servers[${i}]`));
  if (o.baseline !== undefined) {
    const b = object(o.baseline, `${at}.baseline`, '{"windowDays": 14, "minSamples": 10, "minHourSamples": 7}');
    known(b, ['windowDays', 'minSamples', 'minHourSamples'], `${at}.baseline`);
    if (b.windowDays !== undefined) config.baseline.windowDays = range(b.windowDays, `${at}.baseline.windowDays`, 1, 365);
    if (b.minSamples !== undefined) config.baseline.minSamples = whole(b.minSamples, `${at}.baseline.minSamples`, 1, 10_000);
    if (b.minHourSamples !== undefined) config.baseline.minHourSamples = whole(b.minHourSamples, `${at}.baseline.minHourSamples`, 1, 10_000);
  }
  if (o.connections !== undefined) config.connections = list(o.connections, `${at}.connections`).map((c, i) => parseConnection(c, `${at}.connections[${i}]`));
  const names = new Set<string>();
  if (o.detectors !== undefined) {
    config.detectors = list(o.detectors, `${at}.detectors`).map((d, i) => parseDetector(d, `${at}.detectors[${i}]`, config.connections));
    for (const d of config.detectors) {
      if (names.has(d.name)) throw new ConfigError(`${at}.detectors: two detectors are named '${d.name}': give each its own "name"`);
      names.add(d.name);
    }
  }
  if (o.channels !== undefined) {
    const channelNames = new Set<string>();
    config.channels = list(o.channels, `${at}.channels`).map((c, i) => parseChannel(c, `${at}.channels[${i}]`));
    for (const c of config.channels) {
      if (channelNames.has(c.name)) throw new ConfigError(`${at}.channels: two channels are named '${c.name}': give each its own "name"`);
      channelNames.add(c.name);
    }
  }
  if (o.silences !== undefined) {
    config.silences = list(o.silences, `${at}.silences`).map((s, i) => {
      const w = `${at}.silences[${i}]`;
      const so = object(s, w, '{"from": "2026-12-01T08:00:00Z", "until": "2026-12-01T12:00:00Z"}');
      known(so, ['from', 'until', 'detector', 'reason'], w);
      const silence: SilenceConfig = { from: instant(so.from, `${w}.from`), until: instant(so.until, `${w}.until`) };
      if (silence.until <= silence.from) throw new ConfigError(`${w}: "until" must be after "from"`);
      if (so.detector !== undefined) {
        silence.detector = text(so.detector, `${w}.detector`);
        if (!names.has(silence.detector)) throw new ConfigError(`${w}.detector: no detector is named '${silence.detector}'`);
      }
      if (so.reason !== undefined) silence.reason = text(so.reason, `${w}.reason`);
      return silence;
    });
  }
  if (o.maintenance !== undefined) config.maintenance = list(o.maintenance, `${at}.maintenance`).map((m, i) => parseMaintenance(m, `${at}.maintenance[${i}]`));
  return config;
}

function parseConnection(value: unknown, at: string): ConnectionConfig {
  const o = object(value, at, '{"name": "home", "provider": "ISP", "downloadMbps": 100, "uploadMbps": 40}');
  known(o, ['name', 'interface', 'provider', 'downloadMbps', 'uploadMbps'], at);
  const c: ConnectionConfig = { name: text(o.name, `${at}.name`) };
  if (o.interface !== undefined) c.interface = text(o.interface, `${at}.interface`);
  if (o.provider !== undefined) c.provider = text(o.provider, `${at}.provider`);
  if (o.downloadMbps !== undefined) c.downloadMbps = range(o.downloadMbps, `${at}.downloadMbps`, 0.001, 1e6);
  if (o.uploadMbps !== undefined) c.uploadMbps = range(o.uploadMbps, `${at}.uploadMbps`, 0.001, 1e6);
  return c;
}

function parseDetector(value: unknown, at: string, connections: ConnectionConfig[]): DetectorConfig {
  const o = object(value, at, '{"type": "speed", "direction": "download", "below": {"planShare": 0.5}}');
  const type = o.type;
  if (typeof type !== 'string' || !DETECTOR_TYPES.includes(type)) {
    throw new ConfigError(`${at}.type: ${showValue(type)} is not a detector type (known: ${DETECTOR_TYPES.join(', ')})`);
  }
  const common = ['type', 'name', 'remindEveryHours'];
  const base: DetectorBase = { name: o.name === undefined ? `${type}${o.direction ?? o.metric ?? ''}` : text(o.name, `${at}.name`) };
  if (o.remindEveryHours !== undefined) base.remindEveryMs = range(o.remindEveryHours, `${at}.remindEveryHours`, 0.25, 24 * 30) * 3_600_000;
  switch (type) {
    case 'speed': {
      known(o, [...common, 'direction', 'below', 'recoverAbove', 'confirm'], at);
      if (o.direction !== 'download' && o.direction !== 'upload') throw new ConfigError(`${at}.direction: must be "download" or "upload" (got ${showValue(o.direction)})`);
      const direction = o.direction;
      if (o.name === undefined) base.name = `speed-${direction}`;
      const below = speedLevel(o.below, `${at}.below`);
      const recoverAbove = o.recoverAbove === undefined ? raised(below) : speedLevel(o.recoverAbove, `${at}.recoverAbove`);
      if (recoverAbove.kind !== below.kind) throw new ConfigError(`${at}.recoverAbove: must be the same kind of level as "below" (${below.kind})`);
      if (levelNumber(recoverAbove) < levelNumber(below)) throw new ConfigError(`${at}.recoverAbove: must be at or above "below" (the recovery level is the better one)`);
      if (below.kind !== 'mbps' && !connections.some((c) => c[`${direction}Mbps`] !== undefined)) {
        const needs = below.kind === 'plan' || below.planFloor !== undefined;
        if (needs) throw new ConfigError(`${at}.below: a share of the plan needs a connection with "${direction}Mbps" in alerts.connections`);
      }
      return { ...base, type, direction, below, recoverAbove, confirm: confirmation(o.confirm, `${at}.confirm`, DEFAULT_SPEED_CONFIRM) };
    }
    case 'latency': {
      known(o, [...common, 'metric', 'aboveMs', 'recoverBelowMs', 'confirm'], at);
      const metric = o.metric ?? 'latency';
      if (metric !== 'latency' && metric !== 'jitter' && metric !== 'loadedLatency') throw new ConfigError(`${at}.metric: must be "latency", "jitter" or "loadedLatency" (got ${showValue(metric)})`);
      if (o.name === undefined) base.name = metric;
      const aboveMs = range(o.aboveMs, `${at}.aboveMs`, 0.1, 60_000);
      const recoverBelowMs = o.recoverBelowMs === undefined ? aboveMs * 0.8 : range(o.recoverBelowMs, `${at}.recoverBelowMs`, 0.1, 60_000);
      if (recoverBelowMs > aboveMs) throw new ConfigError(`${at}.recoverBelowMs: must be at or below aboveMs (the recovery level is the better one)`);
      return { ...base, type, metric, aboveMs, recoverBelowMs, confirm: confirmation(o.confirm, `${at}.confirm`, DEFAULT_SPEED_CONFIRM) };
    }
    case 'outage':
      known(o, [...common, 'confirm'], at);
      return { ...base, type, confirm: confirmation(o.confirm, `${at}.confirm`, DEFAULT_OUTAGE_CONFIRM) };
    case 'quota': {
      known(o, [...common, 'shares'], at);
      const shares = o.shares === undefined ? [0.8, 1] : list(o.shares, `${at}.shares`).map((s, i) => range(s, `${at}.shares[${i}]`, 0.01, 10));
      return { ...base, type, shares: [...shares].sort((a, b) => a - b) };
    }
    case 'projection':
      known(o, [...common, 'minElapsedShare'], at);
      return { ...base, type, minElapsedShare: o.minElapsedShare === undefined ? 0.1 : range(o.minElapsedShare, `${at}.minElapsedShare`, 0, 1) };
    case 'hog':
    case 'captureLoss': {
      known(o, [...common, 'share', 'recoverShare', 'forMinutes', ...(type === 'hog' ? ['linkMbps'] : [])], at);
      const share = range(o.share, `${at}.share`, type === 'hog' ? 0.01 : 0.000001, 1);
      const recoverShare = o.recoverShare === undefined ? share * 0.8 : range(o.recoverShare, `${at}.recoverShare`, 0, 1);
      if (recoverShare > share) throw new ConfigError(`${at}.recoverShare: must be at or below share (the recovery level is the better one)`);
      const forMs = (o.forMinutes === undefined ? (type === 'hog' ? 10 : 5) : range(o.forMinutes, `${at}.forMinutes`, 0, 24 * 60)) * 60_000;
      if (type === 'captureLoss') return { ...base, type, share, recoverShare, forMs };
      const detector: DetectorConfig = { ...base, type, share, recoverShare, forMs };
      if (o.linkMbps !== undefined) detector.linkMbps = range(o.linkMbps, `${at}.linkMbps`, 0.001, 1e6);
      else if (!connections.some((c) => c.downloadMbps !== undefined)) throw new ConfigError(`${at}: a share of the link needs "linkMbps" or a connection with "downloadMbps"`);
      return detector;
    }
  }
  throw new ConfigError(`${at}.type: unknown detector type`);
}

function speedLevel(value: unknown, at: string): SpeedLevel {
  const o = object(value, at, '{"mbps": 50}, {"planShare": 0.5} or {"baselineShare": 0.7, "planFloor": 0.6}');
  known(o, ['mbps', 'planShare', 'baselineShare', 'planFloor'], at);
  const kinds = ['mbps', 'planShare', 'baselineShare'].filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) throw new ConfigError(`${at}: give exactly one of "mbps", "planShare" or "baselineShare"`);
  if (o.planFloor !== undefined && o.baselineShare === undefined) throw new ConfigError(`${at}.planFloor: only goes with "baselineShare"`);
  if (o.mbps !== undefined) return { kind: 'mbps', mbps: range(o.mbps, `${at}.mbps`, 0.001, 1e6) };
  if (o.planShare !== undefined) return { kind: 'plan', share: range(o.planShare, `${at}.planShare`, 0.01, 1) };
  const level: SpeedLevel = { kind: 'baseline', share: range(o.baselineShare, `${at}.baselineShare`, 0.01, 1) };
  if (o.planFloor !== undefined) level.planFloor = range(o.planFloor, `${at}.planFloor`, 0.01, 1);
  return level;
}

/** The default recovery level: 15% better than the problem level. */
function raised(level: SpeedLevel): SpeedLevel {
  if (level.kind === 'mbps') return { kind: 'mbps', mbps: level.mbps * 1.15 };
  if (level.kind === 'plan') return { kind: 'plan', share: Math.min(1, level.share * 1.15) };
  const up: SpeedLevel = { kind: 'baseline', share: Math.min(1, level.share * 1.15) };
  if (level.planFloor !== undefined) up.planFloor = Math.min(1, level.planFloor * 1.15);
  return up;
}

function levelNumber(level: SpeedLevel): number {
  return level.kind === 'mbps' ? level.mbps : level.share;
}

function confirmation(value: unknown, at: string, defaults: ConfirmationRule): ConfirmationRule {
  if (value === undefined) return { ...defaults };
  const o = object(value, at, '{"bad": 5, "of": 6, "retests": 2, "recoverAfter": 2}');
  known(o, ['bad', 'of', 'retests', 'recoverAfter'], at);
  const rule = { ...defaults };
  if (o.of !== undefined) rule.of = whole(o.of, `${at}.of`, 1, 100);
  if (o.bad !== undefined) rule.bad = whole(o.bad, `${at}.bad`, 1, 100);
  if (o.retests !== undefined) rule.retests = whole(o.retests, `${at}.retests`, 0, 10);
  if (o.recoverAfter !== undefined) rule.recoverAfter = whole(o.recoverAfter, `${at}.recoverAfter`, 1, 100);
  if (rule.bad > rule.of) throw new ConfigError(`${at}.bad: must be at most "of" (${rule.of}): M bad results among the last N`);
  return rule;
}

function parseChannel(value: unknown, at: string): ChannelConfig {
  const o = object(value, at, '{"type": "webhook", "url": "https://example.net/hook"}');
  const type = o.type;
  if (typeof type !== 'string' || !CHANNEL_TYPES.includes(type)) {
    throw new ConfigError(`${at}.type: ${showValue(type)} is not a channel type (known: ${CHANNEL_TYPES.join(', ')})`);
  }
  const name = o.name === undefined ? type : text(o.name, `${at}.name`);
  const attempts = o.attempts === undefined ? 100 : whole(o.attempts, `${at}.attempts`, 1, 10_000);
  switch (type) {
    case 'command': {
      known(o, ['type', 'name', 'command'], at);
      const command = o.command === undefined ? [] : list(o.command, `${at}.command`).map((c, i) => text(c, `${at}.command[${i}]`));
      if (command.length === 0) throw new ConfigError(`${at}.command: missing: the program and its arguments, like ["/usr/local/bin/on-alert", "--quiet"]`);
      if (!command[0]!.startsWith('/')) throw new ConfigError(`${at}.command: the program must be an absolute path (got ${showValue(command[0])})`);
      return { type, name, command };
    }
    case 'webhook':
    case 'push': {
      known(o, ['type', 'name', 'url', 'tokenFile', 'tokenEnv', 'token', 'attempts'], at);
      if (o.token !== undefined) throw new ConfigError(`${at}.token: secrets are not written in the config: use "tokenFile" (a file holding it) or "tokenEnv" (an environment variable)`);
      const channel: Extract<ChannelConfig, { type: 'webhook' | 'push' }> = { type, name, url: url(o.url, `${at}.url`), attempts };
      const token = secret(o, 'token', at);
      if (token !== undefined) channel.token = token;
      return channel;
    }
    case 'email': {
      known(o, ['type', 'name', 'to', 'from', 'complaint', 'smtp', 'attempts'], at);
      if (o.to === undefined) throw new ConfigError(`${at}.to: missing: the address to write to, like "support@provider.example"`);
      const to = (Array.isArray(o.to) ? o.to : [o.to]).map((a, i) => address(a, `${at}.to${Array.isArray(o.to) ? `[${i}]` : ''}`));
      if (to.length === 0) throw new ConfigError(`${at}.to: missing: the address to write to`);
      if (o.from === undefined) throw new ConfigError(`${at}.from: missing: the sender address, like "netmeter@home.example"`);
      const from = address(o.from, `${at}.from`);
      if (o.complaint !== undefined && typeof o.complaint !== 'boolean') throw new ConfigError(`${at}.complaint: must be true or false`);
      const s = object(o.smtp, `${at}.smtp`, '{"host": "smtp.example.net", "port": 587, "user": "me", "passwordFile": "/etc/netmeter/smtp-password"}');
      known(s, ['host', 'port', 'secure', 'user', 'passwordFile', 'passwordEnv', 'password'], `${at}.smtp`);
      if (s.password !== undefined) throw new ConfigError(`${at}.smtp.password: secrets are not written in the config: use "passwordFile" or "passwordEnv"`);
      if (s.secure !== undefined && typeof s.secure !== 'boolean') throw new ConfigError(`${at}.smtp.secure: must be true or false`);
      const smtp: Extract<ChannelConfig, { type: 'email' }>['smtp'] = {
        host: text(s.host, `${at}.smtp.host`),
        port: s.port === undefined ? 587 : whole(s.port, `${at}.smtp.port`, 1, 65535),
        secure: s.secure === true,
      };
      if (s.user !== undefined) smtp.user = text(s.user, `${at}.smtp.user`);
      const password = secret(s, 'password', `${at}.smtp`);
      if (password !== undefined) smtp.password = password;
      return { type, name, to, from, complaint: o.complaint === true, smtp, attempts };
    }
  }
  throw new ConfigError(`${at}.type: unknown channel type`);
}

function secret(o: Record<string, unknown>, key: string, at: string): SecretRef | undefined {
  const file = o[`${key}File`];
  const env = o[`${key}Env`];
  if (file !== undefined && env !== undefined) throw new ConfigError(`${at}: give ${key}File or ${key}Env, not both`);
  if (file !== undefined) {
    const path = text(file, `${at}.${key}File`);
    if (!path.startsWith('/')) throw new ConfigError(`${at}.${key}File: must be an absolute path (got ${showValue(path)})`);
    return { file: path };
  }
  if (env !== undefined) {
    const name = text(env, `${at}.${key}Env`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(`${at}.${key}Env: ${showValue(name)} is not an environment variable name`);
    return { env: name };
  }
  return undefined;
}

function parseMaintenance(value: unknown, at: string): MaintenanceWindow {
  const o = object(value, at, '{"daily": "02:00-04:00"} or {"from": "...", "until": "..."}');
  known(o, ['daily', 'from', 'until'], at);
  if (o.daily !== undefined) {
    const match = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(typeof o.daily === 'string' ? o.daily : '');
    const minutes = match ? [Number(match[1]) * 60 + Number(match[2]), Number(match[3]) * 60 + Number(match[4])] : [];
    if (!match || Number(match[1]) > 23 || Number(match[3]) > 24 || Number(match[2]) > 59 || Number(match[4]) > 59 || minutes[0] === minutes[1]) {
      throw new ConfigError(`${at}.daily: must be a local time range like "02:00-04:00" (got ${showValue(o.daily)})`);
    }
    return { kind: 'daily', fromMinute: minutes[0]!, untilMinute: minutes[1]! };
  }
  const window = { kind: 'once' as const, from: instant(o.from, `${at}.from`), until: instant(o.until, `${at}.until`) };
  if (window.until <= window.from) throw new ConfigError(`${at}: "until" must be after "from"`);
  return window;
}

function object(value: unknown, at: string, example: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${at}: must be an object like ${example}`);
  return value as Record<string, unknown>;
}

function known(o: Record<string, unknown>, keys: string[], at: string): void {
  for (const key of Object.keys(o)) if (!keys.includes(key)) throw new ConfigError(`${at}: unknown setting '${key}' (known: ${keys.join(', ')})`);
}

function list(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw new ConfigError(`${at}: must be a list [...] (got ${showValue(value)})`);
  return value;
}

function text(value: unknown, at: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${at}: must be a non-empty text (got ${showValue(value)})`);
  return value;
}

function range(value: unknown, at: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${at}: must be a number from ${min} to ${max} (got ${showValue(value)})`);
  }
  return value;
}

function whole(value: unknown, at: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${at}: must be a whole number from ${min} to ${max} (got ${showValue(value)})`);
  }
  return value;
}

function url(value: unknown, at: string): string {
  if (value === undefined) throw new ConfigError(`${at}: missing: the address to post to, like "https://example.net/hook"`);
  const s = text(value, at);
  let parsed: URL;
  try {
    parsed = new URL(s);
  } catch {
    throw new ConfigError(`${at}: ${showValue(s)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${at}: must be an http or https URL (got ${showValue(s)})`);
  if (parsed.password !== '') throw new ConfigError(`${at}: secrets are not written in the config: put the token in a file and name it with "tokenFile"`);
  return s;
}

function address(value: unknown, at: string): string {
  const s = text(value, at);
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(s)) throw new ConfigError(`${at}: ${showValue(s)} is not an email address`);
  return s;
}

function instant(value: unknown, at: string): number {
  const t = typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(t) || !/\d\d:\d\d/.test(String(value))) throw new ConfigError(`${at}: must be a date and time like "2026-12-01T08:00:00Z" (got ${showValue(value)})`);
  return t;
}


/** No alerts: no detectors, no channels. Last in the file: parsing needs the constants above. */
export const DEFAULT_ALERTS_CONFIG: AlertsConfig = parseAlertsConfig({}, 'defaults');
