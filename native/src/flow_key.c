// Reads a packet's flow key by the same rules as the TypeScript decoder (src/decode:
// link-layer.ts, ip.ts), step for step, so that whatever this keys the decoder decodes to
// the same TCP/UDP 5-tuple. Where the decoder would call the packet "other" (damaged,
// a later fragment, not IP, another protocol), this returns 0 too; it also returns 0 for
// the few shapes it does not follow (IPv6 extension headers, BSD loopback), which only
// means those packets are not coalesced.
#include "flow_key.h"

#include <string.h>

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_RAW_DLT12 12
#define LINKTYPE_RAW_DLT14 14
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_LINUX_SLL2 276

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

#define PROTO_TCP 6
#define PROTO_UDP 17

static uint32_t be16(const uint8_t *p) {
  return (uint32_t)p[0] << 8 | p[1];
}

/* Where the IP header starts, or -1 (link-layer.ts findNetworkLayer). */
static int64_t network_layer(const uint8_t *p, uint32_t end, int link_type) {
  uint32_t type;
  int64_t at;
  switch (link_type) {
    case LINKTYPE_ETHERNET:
      at = 12;
      for (;;) {
        if (at + 2 > end) return -1;
        type = be16(p + at);
        if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ && type != ETHERTYPE_QINQ_OLD) break;
        at += 4; /* a VLAN tag: its control word, then the next type */
      }
      at += 2;
      break;
    case LINKTYPE_LINUX_SLL:
      if (16 > end) return -1;
      type = be16(p + 14);
      at = 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (20 > end) return -1;
      type = be16(p);
      at = 20;
      break;
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_DLT12:
    case LINKTYPE_RAW_DLT14:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return 0; /* the version nibble decides, below */
    default:
      return -1;
  }
  return type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6 ? at : -1;
}

/* The ports at `at`, when the transport header fits before datagram_end (ip.ts decodeTransport). */
static int read_transport(const uint8_t *p, uint32_t at, uint32_t datagram_end, uint8_t protocol,
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
      /* Only a TCP or UDP header straight after the fixed header; extension headers: 0. */
      return read_transport(p, at + 40, datagram_end, p[at + 6], key);
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
