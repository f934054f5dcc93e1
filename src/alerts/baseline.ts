// A connection's own normal speed: the rolling median of recent results per server, and per
// hour of day once that hour has enough of them (evenings are often slower). The median
// shrugs off the odd bad test; the owner freezes it while an incident is open, so a long
// problem does not become the new normal (docs/alerts.md).

import { localHour } from './local-hour.js';

export interface BaselineRule {
  /** Results older than this leave the median. */
  windowDays: number;
  /** Results needed before the per-server median is used at all. */
  minSamples: number;
  /** Results in one hour of day needed before that hour has a median of its own. */
  minHourSamples: number;
}

export const DEFAULT_BASELINE: BaselineRule = { windowDays: 14, minSamples: 10, minHourSamples: 7 };

interface Sample {
  at: number;
  hour: number;
  value: number;
}

export class SpeedBaseline {
  private readonly samples = new Map<string, Sample[]>();

  constructor(
    private readonly rule: BaselineRule = DEFAULT_BASELINE,
    private readonly timeZone?: string,
  ) {}

  add(key: string, at: number, value: number): void {
    let list = this.samples.get(key);
    if (list === undefined) this.samples.set(key, (list = []));
    list.push({ at, hour: localHour(at, this.timeZone), value });
    const oldest = at - this.rule.windowDays * 86_400_000;
    while (list.length > 0 && list[0]!.at < oldest) list.shift();
  }

  /** The median for `key` at the hour of `at`, or undefined while there is too little history. */
  valueAt(key: string, at: number): number | undefined {
    const list = this.samples.get(key);
    if (list === undefined || list.length < this.rule.minSamples) return undefined;
    const hour = localHour(at, this.timeZone);
    const sameHour = list.filter((s) => s.hour === hour);
    return median((sameHour.length >= this.rule.minHourSamples ? sameHour : list).map((s) => s.value));
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
