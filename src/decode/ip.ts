// IPv4 (with options and fragments) and IPv6 (with its extension header chain), down to the
// TCP or UDP ports. Anything else, or anything damaged, is marked "other" with its reason.
// native/src/flow_key.c follows these rules step for step: change both together.

import { OtherReason, PacketKind, type DecodedPacket } from './decoded-packet.js';

const PROTO_TCP = 6;
const PROTO_UDP = 17;
const EXT_HOP_BY_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_AUTH = 51;
const EXT_DEST_OPTS = 60;
/** A chain longer than this is an attack or garbage, not a packet. */
const MAX_EXTENSION_HEADERS = 16;

/** Decodes an IP packet at `at`; true when it is TCP or UDP with ports. */
export function decodeIp(data: Uint8Array, at: number, end: number, out: DecodedPacket): boolean {
  const version = data[at]! >> 4;
  if (version === 4) return decodeIpv4(data, at, end, out);
  if (version === 6) return decodeIpv6(data, at, end, out);
  return out.other(OtherReason.NOT_IP);
}

function decodeIpv4(data: Uint8Array, at: number, end: number, out: DecodedPacket): boolean {
  const headerLength = (data[at]! & 0x0f) * 4;
  if (headerLength < 20 || at + headerLength > end) return out.other(OtherReason.MALFORMED);
  let totalLength = (data[at + 2]! << 8) | data[at + 3]!;
  // 0 is what a capture taken below TCP segmentation offload shows (the NIC fills it in, or
  // the datagram is over 64 KiB, as with BIG TCP): then the capture bounds it, as in tshark.
  if (totalLength === 0) totalLength = end - at;
  if (totalLength < headerLength) return out.other(OtherReason.MALFORMED);
  out.ipVersion = 4;
  out.sourceAt = at + 12;
  out.destinationAt = at + 16;
  const fragmentOffset = ((data[at + 6]! & 0x1f) << 8) | data[at + 7]!;
  if (fragmentOffset !== 0) return out.other(OtherReason.LATER_FRAGMENT);
  // The datagram may be shorter than what was captured (Ethernet padding): stop at its end.
  const datagramEnd = Math.min(end, at + totalLength);
  return decodeTransport(data[at + 9]!, data, at + headerLength, datagramEnd, out);
}

function decodeIpv6(data: Uint8Array, at: number, end: number, out: DecodedPacket): boolean {
  if (at + 40 > end) return out.other(OtherReason.MALFORMED);
  out.ipVersion = 6;
  out.sourceAt = at + 8;
  out.destinationAt = at + 24;
  const payloadLength = (data[at + 4]! << 8) | data[at + 5]!;
  // A zero payload length is a jumbogram (hop-by-hop option); then the capture bounds it.
  const datagramEnd = payloadLength === 0 ? end : Math.min(end, at + 40 + payloadLength);
  let next = data[at + 6]!;
  let pos = at + 40;
  for (let i = 0; i < MAX_EXTENSION_HEADERS; i++) {
    switch (next) {
      case EXT_HOP_BY_HOP:
      case EXT_ROUTING:
      case EXT_DEST_OPTS:
        if (pos + 8 > datagramEnd) return out.other(OtherReason.MALFORMED);
        next = data[pos]!;
        pos += (data[pos + 1]! + 1) * 8;
        break;
      case EXT_AUTH:
        if (pos + 8 > datagramEnd) return out.other(OtherReason.MALFORMED);
        next = data[pos]!;
        pos += (data[pos + 1]! + 2) * 4;
        break;
      case EXT_FRAGMENT: {
        // Offset 0 (a first or an atomic fragment, RFC 6946) holds the next header: read on,
        // through as many fragment headers as the chain has.
        if (pos + 8 > datagramEnd) return out.other(OtherReason.MALFORMED);
        const offset = ((data[pos + 2]! << 8) | data[pos + 3]!) >> 3;
        if (offset !== 0) return out.other(OtherReason.LATER_FRAGMENT);
        next = data[pos]!;
        pos += 8;
        break;
      }
      default:
        return decodeTransport(next, data, pos, datagramEnd, out);
    }
  }
  return out.other(OtherReason.MALFORMED);
}

function decodeTransport(protocol: number, data: Uint8Array, at: number, end: number, out: DecodedPacket): boolean {
  if (protocol === PROTO_TCP) {
    if (at + 20 > end || data[at + 12]! >> 4 < 5) return out.other(OtherReason.MALFORMED);
    out.kind = PacketKind.TCP;
    out.tcpFlags = data[at + 13]!;
  } else if (protocol === PROTO_UDP) {
    if (at + 8 > end) return out.other(OtherReason.MALFORMED);
    out.kind = PacketKind.UDP;
  } else {
    return out.other(OtherReason.OTHER_PROTOCOL);
  }
  out.sourcePort = (data[at]! << 8) | data[at + 1]!;
  out.destinationPort = (data[at + 2]! << 8) | data[at + 3]!;
  return true;
}
