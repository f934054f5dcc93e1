// What decoding tells the rest of the pipeline about one packet. One object is reused for
// every packet of a batch (decoding allocates nothing); copy out what must outlive it.

export const PacketKind = {
  /** Not TCP or UDP over IP, or damaged: counts in "other". */
  OTHER: 0,
  TCP: 6,
  UDP: 17,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

/** Why a packet went to "other"; counted so a user can see what the capture held. */
export const OtherReason = {
  NONE: 0,
  NOT_IP: 1, // ARP, LLDP, PPPoE discovery, PPP control protocols ...
  OTHER_PROTOCOL: 2, // ICMP, ICMPv6, IGMP, SCTP, ESP ...
  LATER_FRAGMENT: 3, // IP fragments after the first carry no ports
  MALFORMED: 4, // truncated or inconsistent headers
  UNKNOWN_LINK_TYPE: 5,
} as const;
export type OtherReason = (typeof OtherReason)[keyof typeof OtherReason];

export class DecodedPacket {
  kind: PacketKind = PacketKind.OTHER;
  otherReason: OtherReason = OtherReason.NONE;
  /** 4 or 6 once an IP header was read (also for "other" IP packets, e.g. ICMP), else 0. */
  ipVersion: 0 | 4 | 6 = 0;
  /** The packet's bytes; addresses are read from here at the offsets below. */
  data: Buffer = Buffer.alloc(0);
  /** The same bytes, for reading an address as 32-bit words (the flow table's key). */
  view: DataView = new DataView(this.data.buffer, this.data.byteOffset, this.data.length);
  sourceAt = 0;
  destinationAt = 0;
  sourcePort = 0;
  destinationPort = 0;
  /** TCP flags byte (SYN = 0x02, ACK = 0x10); 0 for UDP. */
  tcpFlags = 0;

  reset(data: Buffer): void {
    this.kind = PacketKind.OTHER;
    this.otherReason = OtherReason.NONE;
    this.ipVersion = 0;
    // The packets of a batch share one buffer: a view is made once per batch, not per packet.
    if (data !== this.data) {
      this.data = data;
      this.view = new DataView(data.buffer, data.byteOffset, data.length);
    }
    this.sourcePort = 0;
    this.destinationPort = 0;
    this.tcpFlags = 0;
  }

  other(reason: OtherReason): false {
    this.kind = PacketKind.OTHER;
    this.otherReason = reason;
    return false;
  }
}

export const TCP_SYN = 0x02;
export const TCP_ACK = 0x10;
