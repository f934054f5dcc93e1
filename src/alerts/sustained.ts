// A condition that counts only once it has lasted: a program above a share of the link for
// ten minutes, capture losing packets for five. It closes after the value has stayed below
// a lower level for as long, so a bursty program does not open and close it every minute.

export type SustainedStep = 'none' | 'open' | 'recover';

export class SustainedCondition {
  private aboveSince: number | undefined;
  private belowSince: number | undefined;
  open = false;

  constructor(
    private readonly forMs: number,
    private readonly recoverMs: number,
  ) {}

  /** `above`: past the problem level; `clear`: under the recovery level. */
  push(at: number, above: boolean, clear: boolean): SustainedStep {
    if (!this.open) {
      if (!above) {
        this.aboveSince = undefined;
        return 'none';
      }
      this.aboveSince ??= at;
      if (at - this.aboveSince < this.forMs) return 'none';
      this.open = true;
      this.aboveSince = undefined;
      this.belowSince = undefined;
      return 'open';
    }
    if (!clear) {
      this.belowSince = undefined;
      return 'none';
    }
    this.belowSince ??= at;
    if (at - this.belowSince < this.recoverMs) return 'none';
    this.open = false;
    this.belowSince = undefined;
    return 'recover';
  }
}
