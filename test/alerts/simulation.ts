// A simulated month of hourly speed tests for the alert engine (docs/alerts.md, "The
// simulation"): the noise model, injected drops, a slow decline and flapping, run through
// AlertEngine with an injected clock, and through a fixed per-test threshold (what
// speedtest-tracker does) on the very same scheduled results for comparison.

import { parseAlertsConfig } from '../../src/alerts/config.js';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { AlertEvent, SpeedMeasurement } from '../../src/alerts/types.js';
import { seededRandom as prng } from '../support/seeded-random.js';

export const HOUR = 3_600_000;
export const PLAN_MBPS = 100;
export const TIME_ZONE = 'Europe/Berlin';
export const DAYS = 30;
/** The fixed threshold compared with: one message for every test below 70% of the plan. */
export const FIXED_SHARE = 0.7;


function normal(random: () => number): number {
  // Box-Muller; 1 - u keeps log away from 0.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** The noise model: plan × factor × (1 + N(0, 0.1)); 3% of results replaced by U(0.1, 0.6) × plan. */
export function noisyResult(random: () => number, factor: number): number {
  if (random() < 0.03) return PLAN_MBPS * (0.1 + 0.5 * random());
  return Math.max(0, PLAN_MBPS * factor * (1 + 0.1 * normal(random)));
}

/** Even seeds start in March, odd ones in October: each month holds a daylight-saving change in Berlin. */
export function startOf(seed: number): number {
  return seed % 2 === 0 ? Date.UTC(2026, 2, 14) : Date.UTC(2026, 9, 8);
}

export const ENGINE_CONFIG = {
  timeZone: TIME_ZONE,
  connections: [{ name: 'home', provider: 'Example ISP', downloadMbps: PLAN_MBPS, uploadMbps: 40 }],
  servers: ['a', 'b'],
  detectors: [{ type: 'speed', direction: 'download', below: { baselineShare: 0.7, planFloor: 0.6 }, recoverAbove: { baselineShare: 0.8, planFloor: 0.7 } }],
};

export interface Scenario {
  name: string;
  /** The true speed as a share of the plan at an instant. */
  factor: (at: number) => number;
}

export interface SimulationResult {
  /** Scheduled test times and results, retests left out. */
  scheduled: Array<{ at: number; mbps: number }>;
  events: AlertEvent[];
  retests: number;
  /** Messages a fixed per-test threshold would have sent on the same scheduled results. */
  fixedAlerts: number[];
}

export function simulate(seed: number, scenario: Scenario, days = DAYS, config: unknown = ENGINE_CONFIG): SimulationResult {
  const engine = new AlertEngine(parseAlertsConfig(config, 'simulation'));
  // Two streams: the scheduled series is the same whatever retests the engine asks for.
  const scheduledRandom = prng(seed * 2 + 1);
  const retestRandom = prng(seed * 2 + 2);
  const start = startOf(seed);
  const scheduled: SimulationResult['scheduled'] = [];
  for (let i = 0; i < days * 24; i++) {
    const at = start + i * HOUR;
    scheduled.push({ at, mbps: noisyResult(scheduledRandom, scenario.factor(at)) });
  }
  const events: AlertEvent[] = [];
  let retests = 0;
  const queue: SpeedMeasurement[] = scheduled.map((s, i) => ({ at: s.at, server: i % 2 === 0 ? 'a' : 'b', family: 'ipv4', downloadMbps: s.mbps, failed: false, contended: false }));
  while (queue.length > 0) {
    const m = queue.shift()!;
    for (const d of [...engine.tick(m.at), ...engine.observeSpeed(m)]) {
      if (d.kind === 'notify') events.push(d.event);
      if (d.kind === 'retest') {
        retests++;
        const retest: SpeedMeasurement = { at: d.at, server: d.server ?? m.server, family: d.family, downloadMbps: noisyResult(retestRandom, scenario.factor(d.at)), failed: false, contended: false, retest: true };
        const index = queue.findIndex((q) => q.at > d.at);
        queue.splice(index < 0 ? queue.length : index, 0, retest);
      }
    }
  }
  const fixedAlerts = scheduled.filter((s) => s.mbps < FIXED_SHARE * PLAN_MBPS).map((s) => s.at);
  return { scheduled, events, retests, fixedAlerts };
}

export const steady: Scenario = { name: 'steady', factor: () => 1 };

export interface Drop {
  from: number;
  until: number;
}

/** 3 to 4 drops to 50%, each 3 to 12 hours, starting at any minute, at least two days apart. */
export function drops(seed: number): Drop[] {
  const random = prng(seed * 7 + 3);
  const start = startOf(seed);
  const list: Drop[] = [];
  let t = start + 2 * 24 * HOUR;
  while (true) {
    const from = t + Math.floor(random() * 3 * 24 * 60) * 60_000;
    const until = from + (3 + random() * 9) * HOUR;
    if (until > start + (DAYS - 2) * 24 * HOUR) break;
    list.push({ from, until });
    t = until + 2 * 24 * HOUR;
  }
  return list;
}

export function withDrops(list: Drop[]): Scenario {
  return { name: 'drops', factor: (at) => (list.some((d) => d.from <= at && at < d.until) ? 0.5 : 1) };
}

/** From day 5 the speed slides from 100% to 40% of the plan by day 30. */
export function slowDecline(seed: number): Scenario {
  const start = startOf(seed) + 5 * 24 * HOUR;
  const end = startOf(seed) + DAYS * 24 * HOUR;
  return { name: 'decline', factor: (at) => (at < start ? 1 : 1 - (0.6 * (at - start)) / (end - start)) };
}

/** Episodes of 12 hours, every 3 days from day 2, in which the speed flaps hour by hour between 50% and 95% of the plan. */
export function flapping(seed: number): { scenario: Scenario; episodes: Drop[] } {
  const start = startOf(seed);
  const episodes: Drop[] = [];
  for (let day = 2; day + 1 < DAYS; day += 3) episodes.push({ from: start + day * 24 * HOUR + 10 * HOUR, until: start + day * 24 * HOUR + 22 * HOUR });
  const factor = (at: number) => {
    const episode = episodes.find((e) => e.from <= at && at < e.until);
    if (episode === undefined) return 1;
    return Math.floor((at - episode.from) / HOUR) % 2 === 0 ? 0.5 : 0.95;
  };
  return { scenario: { name: 'flapping', factor }, episodes };
}
