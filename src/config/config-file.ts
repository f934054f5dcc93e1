// netmeter's one config file (JSON, documented in docs/design.md, "Config file"): one
// section per feature — `history`, `alerts`, `metrics`; the speed test adds its own to
// SECTIONS — read and checked in one place, every problem a one-line ConfigError naming
// the file. Files of the 0.1.0 layout, with the history settings at the top level, are
// still read as they are.

import { readFileSync } from 'node:fs';
import { DEFAULT_ALERTS_CONFIG, parseAlertsConfig, type AlertsConfig } from '../alerts/config.js';
import { DEFAULT_SPEEDTEST_CONFIG, parseSpeedtestConfig, type SpeedtestConfig } from '../speedtest/config.js';
import { ConfigError, DEFAULT_CONFIG, HISTORY_KEYS, parseHistoryConfig, type HistoryConfig } from '../history/config.js';
import { DEFAULT_METRICS_CONFIG, parseMetricsConfig, type MetricsConfig } from '../metrics/metrics-config.js';

export interface NetmeterConfig {
  /** Where it was read from; undefined when no file was found (all defaults). */
  path?: string;
  history: HistoryConfig;
  alerts: AlertsConfig;
  speedtest: SpeedtestConfig;
  metrics: MetricsConfig;
}

type SectionName = Exclude<keyof NetmeterConfig, 'path'>;

/** Each section's checker: takes the section's JSON value and the text every error starts with. */
const SECTIONS: { [K in SectionName]: (value: unknown, where: string) => NetmeterConfig[K] } = {
  history: parseHistoryConfig,
  alerts: parseAlertsConfig,
  speedtest: parseSpeedtestConfig,
  metrics: parseMetricsConfig,
};

export const DEFAULT_NETMETER_CONFIG: NetmeterConfig = { history: DEFAULT_CONFIG, alerts: DEFAULT_ALERTS_CONFIG, speedtest: DEFAULT_SPEEDTEST_CONFIG, metrics: DEFAULT_METRICS_CONFIG };

/** Reads `path`; when `required` is false a missing file means the defaults. */
export function loadConfig(path: string, required: boolean): NetmeterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code === 'ENOENT' && !required) return { ...DEFAULT_NETMETER_CONFIG };
    throw new ConfigError(`cannot read the config file ${path} (${code})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config ${path} is not valid JSON (${(error as Error).message.replace(/\s+/g, ' ')})`);
  }
  return { ...parseConfigFile(value, `config ${path}`), path };
}

/** Checks a parsed config file; `where` starts every error message. */
export function parseConfigFile(value: unknown, where: string): NetmeterConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${where}: must be a JSON object like {"history": {"pricePerGB": 0.5, "currency": "EUR"}}`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const sectionNames = Object.keys(SECTIONS);
  const flatHistory = entries.filter(([key]) => HISTORY_KEYS.includes(key));
  if (flatHistory.length > 0 && 'history' in value) {
    throw new ConfigError(`${where}: put ${flatHistory.map(([k]) => k).join(', ')} inside "history", not beside it`);
  }
  const config: NetmeterConfig = { ...DEFAULT_NETMETER_CONFIG };
  for (const [key, section] of entries) {
    if (HISTORY_KEYS.includes(key)) continue;
    if (!sectionNames.includes(key)) {
      throw new ConfigError(`${where}: unknown section '${key}' (known: ${sectionNames.join(', ')})`);
    }
    checkSection(config, key as SectionName, section, `${where}: ${key}`);
  }
  // The 0.1.0 layout: history settings at the top level.
  if (flatHistory.length > 0) config.history = parseHistoryConfig(Object.fromEntries(flatHistory), where);
  return config;
}

function checkSection<K extends SectionName>(config: NetmeterConfig, name: K, value: unknown, where: string): void {
  config[name] = SECTIONS[name](value, where);
}
