// Rates over the last interval: each tick, a row's total minus its total at the previous
// tick, over the seconds between. Rows are matched by a key the caller chooses.

export class RateWindow {
  private previous = new Map<string, number>();
  private current = new Map<string, number>();
  private seconds = 1;

  /** Starts a new interval of `seconds`; the totals of the one before become the baseline. */
  tick(seconds: number): void {
    this.previous = this.current;
    this.current = new Map();
    this.seconds = seconds > 0 ? seconds : 1;
  }

  /** Drops the baseline: the next rates are totals over the interval from the start. */
  forget(): void {
    this.previous = new Map();
  }

  /** Bytes per second of `key` over this interval, given its total now. */
  rate(key: string, total: number): number {
    this.current.set(key, total);
    return Math.max(0, (total - (this.previous.get(key) ?? 0)) / this.seconds);
  }
}
