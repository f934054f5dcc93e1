// One judged series' state machine: confirmation of a problem by M bad results among the
// last N (asking for early retests while it is unconfirmed), and recovery only after K
// scheduled results in a row are back past a separate, better level (hysteresis). Pure: the
// caller judges each result and passes it in; nothing here reads a clock.

export interface ConfirmationRule {
  /** M: bad results among the last `of` that open an incident. */
  bad: number;
  /** N: how many recent results are looked at. */
  of: number;
  /** Early retests asked for after a bad scheduled result, before the next scheduled test. */
  retests: number;
  /** K: scheduled results in a row past the recovery level that close the incident. */
  recoverAfter: number;
}

/** How a result compares with the levels: bad below the problem level, good past the recovery one. */
export type Verdict = 'bad' | 'between' | 'good';

export type Step =
  | { kind: 'none' }
  | { kind: 'retest' }
  | { kind: 'open' }
  | { kind: 'recover' };

export class ConfirmationWindow {
  private recent: boolean[] = [];
  private retestsAsked = 0;
  private goodInRow = 0;
  open = false;

  constructor(private readonly rule: ConfirmationRule) {}

  /**
   * Feeds one counted result; `scheduled` is false for a retest. `mayOpen` can keep an
   * incident from opening although enough results are bad (an outage seen from one server
   * only): then a retest is asked for instead.
   */
  push(verdict: Verdict, scheduled: boolean, mayOpen: () => boolean = () => true): Step {
    if (this.open) {
      // Only scheduled tests close an incident: retests come in bursts minutes apart and
      // would let a speed that flaps hour by hour close and reopen it each time.
      if (!scheduled) return { kind: 'none' };
      this.goodInRow = verdict === 'good' ? this.goodInRow + 1 : 0;
      if (this.goodInRow >= this.rule.recoverAfter) {
        this.open = false;
        this.recent = [];
        this.goodInRow = 0;
        this.retestsAsked = 0;
        return { kind: 'recover' };
      }
      return { kind: 'none' };
    }
    if (scheduled) this.retestsAsked = 0;
    this.recent.push(verdict === 'bad');
    if (this.recent.length > this.rule.of) this.recent.shift();
    const bad = this.recent.filter(Boolean).length;
    if (bad >= this.rule.bad && mayOpen()) {
      this.open = true;
      this.goodInRow = 0;
      return { kind: 'open' };
    }
    return verdict === 'bad' ? this.askRetest() : { kind: 'none' };
  }

  /** A result set aside (contended): not counted, but worth a retest that may be clean. */
  setAside(scheduled: boolean): Step {
    if (this.open) return { kind: 'none' };
    if (scheduled) this.retestsAsked = 0;
    return this.askRetest();
  }

  private askRetest(): Step {
    if (this.retestsAsked >= this.rule.retests) return { kind: 'none' };
    this.retestsAsked++;
    return { kind: 'retest' };
  }
}
