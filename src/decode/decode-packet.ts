// The decoder's one entry point: link layer → IP → TCP/UDP, into a reused DecodedPacket.

import { OtherReason, type DecodedPacket } from './decoded-packet.js';
import { decodeIp } from './ip.js';
import { findNetworkLayer } from './link-layer.js';

/** Decodes the packet in data[start, start + length); true when it is TCP or UDP. Never throws. */
export function decodePacket(data: Buffer, start: number, length: number, linkType: number, out: DecodedPacket): boolean {
  out.reset(data);
  const end = start + length;
  const ipAt = findNetworkLayer(data, start, end, linkType, out);
  if (ipAt < 0) return false;
  // Cut right after the link layer: not IP's first byte, whatever follows in the buffer.
  if (ipAt >= end) return out.other(OtherReason.MALFORMED);
  return decodeIp(data, ipAt, end, out);
}
