// Which applications get Prometheus series of their own, and what goes to app="other": the
// rule that keeps the exporter's cardinality bounded while every series only ever grows
// and all series together add up to the meter's totals at every scrape (docs/fleet/README.md,
// "Applications and other"). Pure: cumulative totals in, series out.
//
// An application is a program name and executable path (as in the history). At each scrape
// the applications with bytes and without a series of their own are ranked by bytes so far,
// and the heaviest take the free places, at most `topApplications` in one daemon run; an
// application once named keeps its series for the run (a restart ranks anew, which
// Prometheus sees as a counter reset). Places are never freed, so an application that was
// ever shown in "other" with bytes stays there: nothing ever moves out of a series, and a
// named application's series holds all its bytes. "(unknown)" (traffic no process was found
// for) always has its own series, outside the count.

import { UNKNOWN_APP, addCounts, zeroCounts, type UsageCounts, type UsageTotal } from '../history/usage-key.js';

export const OTHER_APP = 'other';

/** One exported series: its labels and its counts (cumulative, never lower than before). */
export interface ApplicationSeries extends UsageCounts {
  app: string;
  exe: string;
  user: string;
  interface: string;
}

export interface FoldedApplications {
  series: ApplicationSeries[];
  /** Applications with bytes whose traffic is in app="other" (no series of their own). */
  folded: number;
  /** Applications with series of their own ("(unknown)" aside). */
  named: number;
}

const appKey = (t: { app: string; exe: string }) => JSON.stringify([t.app, t.exe]);

/**
 * The places of one daemon run: at most `limit` keys are ever named, the heaviest with
 * bytes first, and a named key stays named. Applications and subscribers (`--by host`,
 * subscriber-metrics.ts) are both bounded by it.
 */
export class NamedPlaces {
  private readonly named = new Set<string>();

  constructor(readonly limit: number) {}

  has(key: string): boolean {
    return this.named.has(key);
  }

  get size(): number {
    return this.named.size;
  }

  /** Gives the free places to the heaviest keys with bytes not named yet; returns how many with bytes stay unnamed (folded). */
  admit(bytes: ReadonlyMap<string, number>): number {
    const free = this.limit - this.named.size;
    if (free > 0) {
      const candidates = [...bytes.entries()]
        .filter(([key, b]) => b > 0 && !this.named.has(key))
        .sort(([ka, a], [kb, b]) => b - a || (ka < kb ? -1 : 1))
        .slice(0, free);
      for (const [key] of candidates) this.named.add(key);
    }
    let folded = 0;
    for (const [key, b] of bytes) if (b > 0 && !this.named.has(key)) folded++;
    return folded;
  }
}

export class ApplicationFolding {
  private readonly named: NamedPlaces;

  constructor(topApplications: number) {
    this.named = new NamedPlaces(topApplications);
  }

  /** `totals`: the meter's cumulative totals per application, user and interface (usageTotals()). */
  fold(totals: readonly UsageTotal[]): FoldedApplications {
    const bytes = new Map<string, number>();
    for (const t of totals) {
      if (t.app === UNKNOWN_APP) continue;
      const key = appKey(t);
      bytes.set(key, (bytes.get(key) ?? 0) + t.sentBytes + t.receivedBytes);
    }
    const folded = this.named.admit(bytes);

    const series = new Map<string, ApplicationSeries>();
    for (const t of totals) {
      const own = t.app === UNKNOWN_APP || this.named.has(appKey(t));
      const labels = own ? { app: t.app, exe: t.exe, user: t.user, interface: t.interface } : { app: OTHER_APP, exe: '', user: '', interface: t.interface };
      const key = JSON.stringify([labels.app, labels.exe, labels.user, labels.interface]);
      let s = series.get(key);
      if (!s) series.set(key, (s = { ...labels, ...zeroCounts() }));
      addCounts(s, t);
    }
    return { series: [...series.values()], folded, named: this.named.size };
  }
}
