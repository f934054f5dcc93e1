// Link-layer headers: where the IP header starts and which IP version it is. Returns the
// IP header's offset, or -1 (with the reason set on `out`) when there is no IP inside.

import { LinkType } from '../capture/packet-batch.js';
import { OtherReason, type DecodedPacket } from './decoded-packet.js';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad
const ETHERTYPE_QINQ_OLD = 0x9100;
/** Address families a BSD loopback header may carry for IPv6 (Linux, NetBSD/OpenBSD, FreeBSD, Darwin). */
const AF_INET = 2;
const AF_INET6 = new Set([10, 24, 28, 30]);

export function findNetworkLayer(data: Uint8Array, start: number, end: number, linkType: number, out: DecodedPacket): number {
  switch (linkType) {
    case LinkType.ETHERNET: {
      let at = start + 12;
      for (;;) {
        if (at + 2 > end) return out.other(OtherReason.MALFORMED), -1;
        const type = (data[at]! << 8) | data[at + 1]!;
        if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
          at += 4; // tag control word, then the next type
          continue;
        }
        return byEthertype(type, at + 2, out);
      }
    }
    case LinkType.LINUX_SLL:
      if (start + 16 > end) return out.other(OtherReason.MALFORMED), -1;
      return byEthertype((data[start + 14]! << 8) | data[start + 15]!, start + 16, out);
    case LinkType.LINUX_SLL2:
      if (start + 20 > end) return out.other(OtherReason.MALFORMED), -1;
      return byEthertype((data[start]! << 8) | data[start + 1]!, start + 20, out);
    case LinkType.RAW:
    case LinkType.RAW_DLT12:
    case LinkType.RAW_DLT14:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return byVersionNibble(data, start, end, out);
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (start + 4 > end) return out.other(OtherReason.MALFORMED), -1;
      const be = ((data[start]! << 24) | (data[start + 1]! << 16) | (data[start + 2]! << 8) | data[start + 3]!) >>> 0;
      const le = ((data[start + 3]! << 24) | (data[start + 2]! << 16) | (data[start + 1]! << 8) | data[start]!) >>> 0;
      // NULL is in the capturing host's byte order, which the file does not say: the family is the small one.
      const family = linkType === LinkType.LOOP ? be : Math.min(be, le);
      if (family === AF_INET || AF_INET6.has(family)) return byVersionNibble(data, start + 4, end, out);
      return out.other(OtherReason.NOT_IP), -1;
    }
    default:
      return out.other(OtherReason.UNKNOWN_LINK_TYPE), -1;
  }
}

function byEthertype(type: number, at: number, out: DecodedPacket): number {
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) return at;
  return out.other(OtherReason.NOT_IP), -1;
}

function byVersionNibble(data: Uint8Array, at: number, end: number, out: DecodedPacket): number {
  if (at >= end) return out.other(OtherReason.MALFORMED), -1;
  const version = data[at]! >> 4;
  if (version === 4 || version === 6) return at;
  return out.other(OtherReason.NOT_IP), -1;
}
