// Byte and packet counters, the smallest unit of accounting, and the one rule for a
// counter read from outside that went down.

export class Counter {
  bytes = 0;
  packets = 0;

  add(bytes: number, packets: number): void {
    this.bytes += bytes;
    this.packets += packets;
  }

  addCounter(other: Counter): void {
    this.bytes += other.bytes;
    this.packets += other.packets;
  }
}

/** Sent and received, from the point of view of a local socket (or of the whole host). */
export class Traffic {
  readonly sent = new Counter();
  readonly received = new Counter();

  /** Adds sums of many packets at once. */
  add(sentBytes: number, sentPackets: number, receivedBytes: number, receivedPackets: number): void {
    this.sent.bytes += sentBytes;
    this.sent.packets += sentPackets;
    this.received.bytes += receivedBytes;
    this.received.packets += receivedPackets;
  }

  addTraffic(other: Traffic): void {
    this.sent.addCounter(other.sent);
    this.received.addCounter(other.received);
  }
}

/**
 * What a counter that only grows counted since `before`. It goes down only when it was
 * reset (reboot, driver reload, an interface re-created, a 32-bit counter wrapping, its
 * source restarted): then what it shows was counted from zero. Never negative, never the
 * near-2^64 of unsigned arithmetic across a reset; 0 for a reading that is no number.
 */
export function counterDelta(before: number, now: number): number {
  if (!Number.isFinite(now) || now < 0) return 0;
  if (!Number.isFinite(before) || before < 0) return now;
  return now >= before ? now - before : now;
}
