// Reads a packet's flow key by the same rules as the TypeScript decoder (src/decode:
// link-layer.ts, ip.ts), step for step, so that it keys exactly the packets the decoder
// decodes as TCP or UDP, with the same 5-tuple. Where the decoder calls a packet "other"
// (damaged, a later fragment, not IP, another protocol), this returns 0 too.
#include "flow_key.h"

#include <string.h>

#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_RAW_DLT12 12
#define LINKTYPE_RAW_DLT14 14
#define LINKTYPE_LOOP 108
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_LINUX_SLL2 276

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_PPPOE_SESSION 0x8864
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define IEEE_802_3_MAX_LENGTH 1500
#define AF_INET_BSD 2
#define AF_INET6_BSD 24
#define AF_INET6_FREEBSD 28
#define AF_INET6_DARWIN 30

#define PROTO_TCP 6
#define PROTO_UDP 17
#define EXT_HOP_BY_HOP 0
#define EXT_ROUTING 43
#define EXT_FRAGMENT 44
#define EXT_AUTH 51
#define EXT_DEST_OPTS 60
#define MAX_EXTENSION_HEADERS 16

static uint32_t be16(const uint8_t *p) {
  return (uint32_t)p[0] << 8 | p[1];
}

/* PPP's protocol field at `at`, two bytes or one when compressed (link-layer.ts byPppProtocol). */
static int64_t by_ppp_protocol(const uint8_t *p, int64_t at, uint32_t end) {
  if (at + 1 > end) return -1;
  uint32_t protocol = p[at];
  int64_t length = 1;
  if ((protocol & 1) == 0) {
    if (at + 2 > end) return -1;
    protocol = be16(p + at);
    length = 2;
  }
  return protocol == PPP_IPV4 || protocol == PPP_IPV6 ? at + length : -1;
}

/* link-layer.ts byEthertype. */
static int64_t by_ethertype(const uint8_t *p, uint32_t type, int64_t at, uint32_t end) {
  if (type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6) return at;
  if (type == ETHERTYPE_PPPOE_SESSION) {
    if (at + 6 > end) return -1;
    return by_ppp_protocol(p, at + 6, end); /* past version/type, code, session id, length */
  }
  return -1;
}

/* The BSD loopback family in either byte order or half, as tshark reads it (link-layer.ts bsdFamily). */
static uint32_t bsd_family(const uint8_t *p) {
  if (p[2] != 0 || p[3] != 0) {
    if (p[3] == 0 && p[2] < 6) return p[2];
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  }
  if (p[0] == 0 && p[1] < 6) return p[1];
  return (uint32_t)p[1] << 8 | p[0];
}

/* link-layer.ts bsdLoopback. */
static int64_t bsd_loopback(const uint8_t *p, uint32_t end) {
  if (2 > end) return -1;
  if (p[0] == 0xff && p[1] == 0x03) return by_ppp_protocol(p, 2, end); /* PPP in HDLC framing */
  if (4 > end) return -1;
  uint32_t family = bsd_family(p);
  if (family > IEEE_802_3_MAX_LENGTH) return by_ethertype(p, family, 4, end);
  if (family == AF_INET_BSD || family == AF_INET6_BSD || family == AF_INET6_FREEBSD || family == AF_INET6_DARWIN) return 4;
  return -1;
}

/* Where the IP header starts, or -1 (link-layer.ts findNetworkLayer). The version nibble
 * is checked by the caller. */
static int64_t network_layer(const uint8_t *p, uint32_t end, int link_type) {
  int64_t at;
  switch (link_type) {
    case LINKTYPE_ETHERNET:
      at = 12;
      for (;;) {
        if (at + 2 > end) return -1;
        uint32_t type = be16(p + at);
        if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ && type != ETHERTYPE_QINQ_OLD) {
          return by_ethertype(p, type, at + 2, end);
        }
        at += 4; /* a VLAN tag: its control word, then the next type */
      }
    case LINKTYPE_LINUX_SLL:
      if (16 > end) return -1;
      return by_ethertype(p, be16(p + 14), 16, end);
    case LINKTYPE_LINUX_SLL2:
      if (20 > end) return -1;
      return by_ethertype(p, be16(p), 20, end);
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_DLT12:
    case LINKTYPE_RAW_DLT14:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return 0;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return bsd_loopback(p, end);
    default:
      return -1;
  }
}

/* The ports at `at`, when the transport header fits before datagram_end (ip.ts decodeTransport). */
static int read_transport(const uint8_t *p, uint64_t at, uint64_t datagram_end, uint8_t protocol,
                          flow_key *key) {
  if (protocol == PROTO_TCP) {
    if (at + 20 > datagram_end || p[at + 12] >> 4 < 5) return 0;
  } else if (protocol == PROTO_UDP) {
    if (at + 8 > datagram_end) return 0;
  } else {
    return 0;
  }
  key->bytes[0] = protocol;
  memcpy(key->bytes + 36, p + at, 4); /* source port, destination port */
  return 1;
}

/* IPv6's extension header chain, then the transport header (ip.ts decodeIpv6). */
static int read_ipv6_chain(const uint8_t *p, uint64_t pos, uint64_t datagram_end, uint8_t next, flow_key *key) {
  for (int i = 0; i < MAX_EXTENSION_HEADERS; i++) {
    switch (next) {
      case EXT_HOP_BY_HOP:
      case EXT_ROUTING:
      case EXT_DEST_OPTS:
        if (pos + 8 > datagram_end) return 0;
        next = p[pos];
        pos += ((uint64_t)p[pos + 1] + 1) * 8;
        break;
      case EXT_AUTH:
        if (pos + 8 > datagram_end) return 0;
        next = p[pos];
        pos += ((uint64_t)p[pos + 1] + 2) * 4;
        break;
      case EXT_FRAGMENT:
        if (pos + 8 > datagram_end) return 0;
        if ((be16(p + pos + 2) >> 3) != 0) return 0; /* a later fragment: no ports */
        next = p[pos];
        pos += 8;
        break;
      default:
        return read_transport(p, pos, datagram_end, next, key);
    }
  }
  return 0;
}

int flow_key_read(const uint8_t *p, uint32_t end, int link_type, flow_key *key) {
  int64_t found = network_layer(p, end, link_type);
  if (found < 0 || found >= end) return 0;
  uint32_t at = (uint32_t)found;
  memset(key, 0, sizeof *key);
  switch (p[at] >> 4) {
    case 4: {
      uint32_t header_length = (uint32_t)(p[at] & 0x0f) * 4;
      if (header_length < 20 || at + header_length > end) return 0;
      uint32_t total_length = be16(p + at + 2);
      if (total_length == 0) total_length = end - at; /* below segmentation offload: the capture bounds it */
      if (total_length < header_length) return 0;
      if ((be16(p + at + 6) & 0x1fff) != 0) return 0; /* a later fragment: no ports */
      uint32_t datagram_end = at + total_length < end ? at + total_length : end;
      key->bytes[1] = 4;
      memcpy(key->bytes + 4, p + at + 12, 4);
      memcpy(key->bytes + 20, p + at + 16, 4);
      return read_transport(p, at + header_length, datagram_end, p[at + 9], key);
    }
    case 6: {
      if (at + 40 > end) return 0;
      uint32_t payload_length = be16(p + at + 4);
      uint32_t datagram_end = payload_length == 0 || at + 40 + payload_length > end ? end : at + 40 + payload_length;
      key->bytes[1] = 6;
      memcpy(key->bytes + 4, p + at + 8, 16);
      memcpy(key->bytes + 20, p + at + 24, 16);
      return read_ipv6_chain(p, at + 40, datagram_end, p[at + 6], key);
    }
    default:
      return 0;
  }
}

uint32_t flow_key_hash(const flow_key *key) {
  /* Each 32-bit word times its own odd constant, summed: the products are independent, so
   * this costs a few cycles, not the ten dependent steps of a byte-wise hash. */
  static const uint64_t multiplier[10] = {
      0x9e3779b97f4a7c15u, 0xc2b2ae3d27d4eb4fu, 0x165667b19e3779f9u, 0xd6e8feb86659fd93u,
      0xff51afd7ed558ccdu, 0xc4ceb9fe1a85ec53u, 0x94d049bb133111ebu, 0xbf58476d1ce4e5b9u,
      0x2545f4914f6cdd1du, 0x9fb21c651e98df25u,
  };
  uint64_t sum = 0;
  for (int i = 0; i < 10; i++) {
    uint32_t word;
    memcpy(&word, key->bytes + 4 * i, 4);
    sum += word * multiplier[i];
  }
  return (uint32_t)(sum >> 32) ^ (uint32_t)sum;
}
