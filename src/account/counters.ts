// Byte and packet counters, the smallest unit of accounting.

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
