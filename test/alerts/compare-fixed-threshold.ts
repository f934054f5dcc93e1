// Prints the figures in docs/alerts.md: the alert engine beside a fixed per-test threshold
// (one message for every scheduled test below 70% of the plan, as speedtest-tracker sends)
// on the same simulated series, 100 seeds each. Run: node dist/test/alerts/compare-fixed-threshold.js

import { DAYS, FIXED_SHARE, HOUR, PLAN_MBPS, drops, flapping, simulate, slowDecline, steady, withDrops, type Drop, type Scenario } from './simulation.js';

const SEEDS = Array.from({ length: 100 }, (_, i) => i + 1);

interface Row {
  incidents: number;
  messages: number;
  retests: number;
  tests: number;
  fixed: number;
  /** Fixed-threshold messages while the true speed was at the plan. */
  fixedFalse: number;
  seedsWithFalse: number;
  fixedSeedsWithFalse: number;
  /** Per problem: the scheduled test (1st, 2nd, ...) in it at which the engine opened. */
  detectedAt: number[];
}

function measure(scenario: (seed: number) => { scenario: Scenario; problems: Drop[] }): Row {
  const row: Row = { incidents: 0, messages: 0, retests: 0, tests: 0, fixed: 0, fixedFalse: 0, seedsWithFalse: 0, fixedSeedsWithFalse: 0, detectedAt: [] };
  for (const seed of SEEDS) {
    const { scenario: s, problems } = scenario(seed);
    const result = simulate(seed, s);
    const opens = result.events.filter((e) => e.kind === 'open');
    row.incidents += opens.length;
    row.messages += result.events.length;
    row.retests += result.retests;
    row.tests += result.scheduled.length;
    row.fixed += result.fixedAlerts.length;
    row.fixedFalse += result.fixedAlerts.filter((at) => s.factor(at) === 1).length;
    if (opens.some((e) => s.factor(e.at) === 1)) row.seedsWithFalse++;
    if (result.fixedAlerts.some((at) => s.factor(at) === 1)) row.fixedSeedsWithFalse++;
    for (const p of problems) {
      const open = opens.find((e) => e.at >= p.from && e.at < p.until + HOUR);
      if (open) row.detectedAt.push(result.scheduled.filter((t) => t.at >= p.from && t.at <= open.at).length);
    }
  }
  return row;
}

const rows: Array<[string, Row, number]> = [];
const add = (name: string, f: (seed: number) => { scenario: Scenario; problems: Drop[] }) => {
  let problems = 0;
  for (const seed of SEEDS) problems += f(seed).problems.length;
  rows.push([name, measure(f), problems]);
};
add('noise only', () => ({ scenario: steady, problems: [] }));
add('drops to 50%, 3-12 h', (seed) => {
  const list = drops(seed);
  return { scenario: withDrops(list), problems: list };
});
add('slow decline 100% → 40%', (seed) => ({ scenario: slowDecline(seed), problems: [] }));
add('flapping 50%/95% hourly, 12 h', (seed) => {
  const f = flapping(seed);
  return { scenario: f.scenario, problems: f.episodes };
});

console.log(`100 seeds x ${DAYS} days of hourly tests, plan ${PLAN_MBPS} Mbit/s; fixed threshold: every test below ${FIXED_SHARE * 100}% of the plan.\n`);
console.log('| series | problems injected | engine: incidents | engine: messages | engine: retests | fixed: messages | fixed: messages while at plan speed |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [name, r, problems] of rows) {
  console.log(`| ${name} | ${problems || '-'} | ${r.incidents} | ${r.messages} | ${r.retests} (${((100 * r.retests) / r.tests).toFixed(1)}% of ${r.tests} tests) | ${r.fixed} | ${r.fixedFalse} |`);
}
const drop = rows[1]![1];
const histogram = [1, 2, 3].map((n) => drop.detectedAt.filter((d) => d === n).length);
console.log(`\nDrops: opened at the 1st / 2nd / 3rd scheduled test in the drop: ${histogram.join(' / ')} (of ${rows[1]![2]}).`);
console.log(`Noise: seeds with a false incident: engine ${rows[0]![1].seedsWithFalse} of 100; seeds where the fixed threshold sent a false message: ${rows[0]![1].fixedSeedsWithFalse} of 100 (${rows[0]![1].fixed} messages).`);
