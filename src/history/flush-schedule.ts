// When the daemon writes: at the first tick in each new interval of the wall clock
// (hh:mm:00 for a minute), so each minute row holds that minute. A wall clock stepped back
// or forward makes a flush due at once and only moves which row the traffic since the
// last flush goes into: the recorder writes the growth of counters, so nothing is lost or
// counted twice.

export class FlushSchedule {
  private slot: number;

  constructor(
    private readonly intervalMs: number,
    nowMs: number,
  ) {
    this.slot = Math.floor(nowMs / intervalMs);
  }

  /** True at the first call in an interval other than the last flush's. */
  due(wallMs: number): boolean {
    const slot = Math.floor(wallMs / this.intervalMs);
    if (slot === this.slot) return false;
    this.slot = slot;
    return true;
  }
}
