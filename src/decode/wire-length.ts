// The original length of a packet that may have been cut short, read from its IP header
// through the same link-layer decoding as every other packet (link-layer.ts). For the cap
// engine, which reports only the captured length, never pcap_pkthdr.len: libpcap cuts at
// 65535, and loopback or offloaded packets reach 65549 (65535 of IP plus 14 of Ethernet).

import { DecodedPacket } from './decoded-packet.js';
import { findNetworkLayer } from './link-layer.js';

const scratch = new DecodedPacket();

/**
 * The link-layer header plus the IP length, or `captured` when that is no more: non-IP or
 * damaged packets, an IPv6 jumbogram (payload length 0) and an IPv4 total length of 0
 * (segmentation offload) keep their captured length, a lower bound.
 */
export function wireLengthFromHeaders(bytes: Buffer, start: number, captured: number, linkType: number): number {
  const end = start + captured;
  scratch.reset(bytes);
  const ip = findNetworkLayer(bytes, start, end, linkType, scratch);
  if (ip < 0 || ip >= end) return captured;
  const version = bytes[ip]! >> 4;
  let ipLength = 0;
  if (version === 4 && ip + 4 <= end) ipLength = bytes.readUInt16BE(ip + 2);
  else if (version === 6 && ip + 6 <= end) {
    const payload = bytes.readUInt16BE(ip + 4);
    ipLength = payload === 0 ? 0 : 40 + payload;
  }
  return ipLength === 0 ? captured : Math.max(captured, ip - start + ipLength);
}
