// Link-layer headers: where the IP header starts and which IP version it is. Returns the
// IP header's offset, or -1 (with the reason set on `out`) when there is no IP inside.
// native/src/flow_key.c follows these rules step for step: change both together.

import { LinkType } from '../capture/packet-batch.js';
import { OtherReason, type DecodedPacket } from './decoded-packet.js';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad
const ETHERTYPE_QINQ_OLD = 0x9100;
/** PPPoE session stage (RFC 2516); discovery (0x8863) carries no IP and stays "other". */
const ETHERTYPE_PPPOE_SESSION = 0x8864;
const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
/** Largest 802.3 length field: a BSD loopback header above it holds an ethertype (as tshark reads it). */
const IEEE_802_3_MAX_LENGTH = 1500;
/** BSD loopback address families: AF_INET everywhere; AF_INET6 of NetBSD/OpenBSD, FreeBSD and Darwin. */
const AF_INET = 2;
const AF_INET6_BSD = 24;
const AF_INET6_FREEBSD = 28;
const AF_INET6_DARWIN = 30;

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
        return byEthertype(type, data, at + 2, end, out);
      }
    }
    case LinkType.LINUX_SLL:
      if (start + 16 > end) return out.other(OtherReason.MALFORMED), -1;
      return byEthertype((data[start + 14]! << 8) | data[start + 15]!, data, start + 16, end, out);
    case LinkType.LINUX_SLL2:
      if (start + 20 > end) return out.other(OtherReason.MALFORMED), -1;
      return byEthertype((data[start]! << 8) | data[start + 1]!, data, start + 20, end, out);
    case LinkType.RAW:
    case LinkType.RAW_DLT12:
    case LinkType.RAW_DLT14:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return byVersionNibble(data, start, end, out);
    case LinkType.NULL:
    case LinkType.LOOP:
      return bsdLoopback(data, start, end, out);
    default:
      return out.other(OtherReason.UNKNOWN_LINK_TYPE), -1;
  }
}

function byEthertype(type: number, data: Uint8Array, at: number, end: number, out: DecodedPacket): number {
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) return at;
  if (type === ETHERTYPE_PPPOE_SESSION) {
    // version/type, code, session id, length; then PPP's protocol. tshark checks none of
    // the first four (nor may we: a DSL capture is judged by what tshark shows of it).
    if (at + 6 > end) return out.other(OtherReason.MALFORMED), -1;
    return byPppProtocol(data, at + 6, end, out);
  }
  return out.other(OtherReason.NOT_IP), -1;
}

/** PPP's protocol field at `at`: two bytes, or one when compressed (RFC 1661 6.5: an odd first byte). */
function byPppProtocol(data: Uint8Array, at: number, end: number, out: DecodedPacket): number {
  if (at + 1 > end) return out.other(OtherReason.MALFORMED), -1;
  let protocol = data[at]!;
  let length = 1;
  if ((protocol & 1) === 0) {
    if (at + 2 > end) return out.other(OtherReason.MALFORMED), -1;
    protocol = (protocol << 8) | data[at + 1]!;
    length = 2;
  }
  if (protocol === PPP_IPV4 || protocol === PPP_IPV6) return at + length;
  return out.other(OtherReason.NOT_IP), -1;
}

/**
 * BSD loopback (NULL, LOOP): a 4-byte address family in the capturing host's byte order,
 * which the file does not record (LOOP should be big-endian, but writers disagree). Read
 * as tshark does: either byte order, a 16-bit value in either half, an ethertype above
 * 1500, and PPP in HDLC framing (ff 03) from old BSD ppp captures.
 */
function bsdLoopback(data: Uint8Array, start: number, end: number, out: DecodedPacket): number {
  if (start + 2 > end) return out.other(OtherReason.MALFORMED), -1;
  if (data[start] === 0xff && data[start + 1] === 0x03) return byPppProtocol(data, start + 2, end, out);
  if (start + 4 > end) return out.other(OtherReason.MALFORMED), -1;
  const family = bsdFamily(data, start);
  if (family > IEEE_802_3_MAX_LENGTH) return byEthertype(family, data, start + 4, end, out);
  if (family === AF_INET || family === AF_INET6_BSD || family === AF_INET6_FREEBSD || family === AF_INET6_DARWIN) {
    return byVersionNibble(data, start + 4, end, out);
  }
  return out.other(OtherReason.NOT_IP), -1;
}

/** The family value, whichever of the four byte places its low byte was written to. */
function bsdFamily(data: Uint8Array, at: number): number {
  const b0 = data[at]!;
  const b1 = data[at + 1]!;
  const b2 = data[at + 2]!;
  const b3 = data[at + 3]!;
  // Read little-endian first, then undo a big-endian or a 16-bit write the way tshark does.
  if (b2 !== 0 || b3 !== 0) {
    if (b3 === 0 && b2 < 6) return (b3 << 8) | b2; // a 16-bit value in the upper half
    return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0; // big-endian
  }
  if (b0 === 0 && b1 < 6) return b1; // a big-endian 16-bit value in the lower half
  return (b1 << 8) | b0;
}

function byVersionNibble(data: Uint8Array, at: number, end: number, out: DecodedPacket): number {
  if (at >= end) return out.other(OtherReason.MALFORMED), -1;
  const version = data[at]! >> 4;
  if (version === 4 || version === 6) return at;
  return out.other(OtherReason.NOT_IP), -1;
}
