// The unit every packet source hands to the pipeline: a batch of packets laid out as
// parallel arrays over one backing buffer, so a file reader or the native engine can pass
// thousands of packets in one call without an object per packet.

/** Link-layer header types (LINKTYPE_* values of the pcap and pcapng formats). */
export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte address family in host byte order
  ETHERNET: 1,
  RAW: 101, // raw IPv4/IPv6, version from the first nibble (LINKTYPE_RAW)
  RAW_DLT12: 12, // DLT_RAW on some BSDs, written by old captures
  RAW_DLT14: 14, // DLT_RAW on OpenBSD
  LOOP: 108, // OpenBSD loopback: address family in network byte order
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** One capture interface: a pcapng IDB, a classic pcap file, or a live device. */
export interface CaptureInterface {
  name: string;
  linkType: number;
}

/**
 * Entries of packets. An entry is one packet, except in a batch with `packets`: there the
 * live engine may have coalesced several packets of one flow direction (TCP or UDP, same
 * addresses and ports) into one entry, which holds the first packet's captured bytes and
 * the sum of their wire lengths. The meter takes nothing else from a packet that is not the
 * first of its flow, so it accounts such an entry as it would the packets one by one.
 */
export interface PacketBatch {
  /** Entries. */
  count: number;
  /** Backing bytes; entry i's captured bytes are data[offset[i], offset[i] + capturedLength[i]). */
  data: Buffer;
  offset: Uint32Array;
  capturedLength: Uint32Array;
  /** Original length on the wire (summed over an entry's packets): what every byte total is made of. */
  wireLength: Uint32Array;
  /** Capture time of the (first) packet, seconds since the epoch (microseconds are kept in a double). */
  timestamp: Float64Array;
  /** Packets per entry and the capture time of each entry's last packet; null: one packet each. */
  packets: Uint32Array | null;
  lastTimestamp: Float64Array | null;
  /** Index into `interfaces`. */
  interfaceIndex: Uint16Array;
  interfaces: readonly CaptureInterface[];
}

/** Grows a batch one packet at a time; reused across batches by the file readers. */
export class PacketBatchBuilder {
  count = 0;
  offset: Uint32Array;
  capturedLength: Uint32Array;
  wireLength: Uint32Array;
  timestamp: Float64Array;
  interfaceIndex: Uint16Array;

  constructor(readonly capacity: number) {
    this.offset = new Uint32Array(capacity);
    this.capturedLength = new Uint32Array(capacity);
    this.wireLength = new Uint32Array(capacity);
    this.timestamp = new Float64Array(capacity);
    this.interfaceIndex = new Uint16Array(capacity);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  push(offset: number, capturedLength: number, wireLength: number, timestamp: number, interfaceIndex: number): void {
    const i = this.count++;
    this.offset[i] = offset;
    this.capturedLength[i] = capturedLength;
    this.wireLength[i] = wireLength;
    this.timestamp[i] = timestamp;
    this.interfaceIndex[i] = interfaceIndex;
  }

  /** A batch over `data` holding the packets pushed so far; the builder starts anew. */
  take(data: Buffer, interfaces: readonly CaptureInterface[]): PacketBatch {
    const n = this.count;
    this.count = 0;
    return {
      count: n,
      data,
      offset: this.offset.slice(0, n),
      capturedLength: this.capturedLength.slice(0, n),
      wireLength: this.wireLength.slice(0, n),
      timestamp: this.timestamp.slice(0, n),
      packets: null,
      lastTimestamp: null,
      interfaceIndex: this.interfaceIndex.slice(0, n),
      interfaces,
    };
  }
}

/** What every source (capture file, live engine) provides to the pipeline. */
export interface PacketSource {
  readonly kind: 'live' | 'pcap' | 'pcapng';
  readonly path?: string;
  /** Interfaces known so far (a pcapng file may add more as it is read). */
  interfaces(): readonly CaptureInterface[];
  batches(): AsyncIterable<PacketBatch>;
}
