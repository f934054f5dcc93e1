// Time as the session and attribution see it: the wall clock for dates (minute rows, packet
// times, retiring idle connections) and a monotonic clock for intervals (rates, debounces),
// so that a wall clock stepped back or forward never makes a negative or absurd rate.
// Tests pass a fake one.

export interface Clock {
  /** Milliseconds since the epoch, as the wall clock says: may jump. */
  now(): number;
  /** Milliseconds from an arbitrary origin that only ever go forward. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};
