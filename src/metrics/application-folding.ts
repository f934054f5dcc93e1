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

import { UNKNOWN_APP, addCounts, type UsageCounts, type UsageTotal } from '../history/usage-key.js';
import { labelText, type TextSeries } from './exposition-text.js';

export const OTHER_APP = 'other';

/** One exported series: its labels and its counts (cumulative, never lower than before). */
export interface ApplicationSeries extends UsageCounts {
  app: string;
  exe: string;
  user: string;
  interface: string;
}

export interface FoldedApplications {
  /** Valid until the next fold: a series is one object for the run, its counts summed anew at each fold. */
  series: Array<ApplicationSeries & TextSeries>;
  /** Applications with bytes whose traffic is in app="other" (no series of their own). */
  folded: number;
  /** Applications with series of their own ("(unknown)" aside). */
  named: number;
}

// Keys of maps looked up once per total per scrape, so plain joins rather than JSON: no
// name, path, user or interface name holds a NUL.
const appKey = (t: { app: string; exe: string }) => `${t.app}\0${t.exe}`;

/**
 * A series kept for the run (applications' and subscribers'): its counts, summed anew at
 * each fold, and its label text, escaped and encoded once (exposition-text.ts).
 */
export abstract class FoldedSeries implements UsageCounts, TextSeries {
  sentBytes = 0;
  receivedBytes = 0;
  sentPackets = 0;
  receivedPackets = 0;
  /** The fold that last counted into it. */
  fold = 0;
  readonly labelBytes: Uint8Array;
  constructor(labels: ReadonlyArray<readonly [string, string]>) {
    this.labelBytes = Buffer.from(labelText(labels));
  }
  abstract labels(): Record<string, string>;
}

class Series extends FoldedSeries implements ApplicationSeries {
  readonly interface: string;
  constructor(
    readonly app: string,
    readonly exe: string,
    readonly user: string,
    iface: string,
  ) {
    super([['app', app], ['exe', exe], ['user', user], ['interface', iface]]);
    this.interface = iface;
  }
  labels(): Record<string, string> {
    return { app: this.app, exe: this.exe, user: this.user, interface: this.interface };
  }
}

/**
 * The series of `totals`, found by key (made at the first sight of the key) and summed
 * anew: each series comes out once, in the order of its first total, as a fresh fold would.
 * `fold` numbers the fold: a series met the first time in it starts again from zero.
 */
export function sumInto<S extends FoldedSeries>(totals: Iterable<UsageTotal>, fold: number, seriesOf: (t: UsageTotal) => S): S[] {
  const out: S[] = [];
  for (const t of totals) {
    const s = seriesOf(t);
    if (s.fold !== fold) {
      s.fold = fold;
      s.sentBytes = s.receivedBytes = s.sentPackets = s.receivedPackets = 0;
      out.push(s);
    }
    addCounts(s, t);
  }
  return out;
}

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
  private readonly series = new Map<string, Series>();
  private folds = 0;

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

    const series = sumInto(totals, ++this.folds, (t) => {
      const own = t.app === UNKNOWN_APP || this.named.has(appKey(t));
      const key = own ? `${t.app}\0${t.exe}\0${t.user}\0${t.interface}` : `${OTHER_APP}\0\0\0${t.interface}`;
      let s = this.series.get(key);
      if (!s) this.series.set(key, (s = own ? new Series(t.app, t.exe, t.user, t.interface) : new Series(OTHER_APP, '', '', t.interface)));
      return s;
    });
    return { series, folded, named: this.named.size };
  }
}
