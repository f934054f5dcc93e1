// Prints the figures in docs/alerts.md: the alert engine beside a fixed per-test threshold
// (one message for every scheduled test below 70% of the plan, as speedtest-tracker sends)
// on the same simulated series, 100 seeds each. Run: node dist/test/alerts/compare-fixed-threshold.js

import { DAYS, drops, flapping, simulate, slowDecline, steady, withDrops, type Scenario } from './simulation.js';

const SEEDS = Array.from({ length: 100 }, (_, i) => i + 1);

function row(name: string, scenario: (seed: number) => Scenario): void {
  let messages = 0;
  let fixed = 0;
  let retests = 0;
  let tests = 0;
  let seedsWithFalse = 0;
  let fixedSeedsWithAny = 0;
  for (const seed of SEEDS) {
    const result = simulate(seed, scenario(seed));
    messages += result.events.length;
    fixed += result.fixedAlerts.length;
    retests += result.retests;
    tests += result.scheduled.length;
    if (name === 'noise' && result.events.length > 0) seedsWithFalse++;
    if (result.fixedAlerts.length > 0) fixedSeedsWithAny++;
  }
  const extra = name === 'noise' ? ` | seeds with a false incident: engine ${seedsWithFalse}, fixed ${fixedSeedsWithAny}` : '';
  console.log(`| ${name} | ${tests} | ${retests} (${((100 * retests) / tests).toFixed(1)}%) | ${messages} | ${fixed}${extra} |`);
}

console.log(`100 seeds x ${DAYS} days of hourly tests`);
console.log('| series | scheduled tests | retests | engine messages (open + recovery) | fixed-threshold messages |');
console.log('| --- | --- | --- | --- | --- |');
row('noise', () => steady);
row('drops', (seed) => withDrops(drops(seed)));
row('decline', (seed) => slowDecline(seed));
row('flapping', (seed) => flapping(seed).scenario);
let dropCount = 0;
for (const seed of SEEDS) dropCount += drops(seed).length;
console.log(`drops injected: ${dropCount}; flapping episodes: ${SEEDS.length * flapping(1).episodes.length}`);
