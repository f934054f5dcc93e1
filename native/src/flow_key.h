// Which flow direction a captured packet belongs to, read in C so the capture thread can
// coalesce a batch's packets of one flow direction into one entry (live_capture.c).
#ifndef NETMETER_FLOW_KEY_H
#define NETMETER_FLOW_KEY_H

#include <stdint.h>

/* protocol (6 or 17), IP version (4 or 6), two zero bytes, source and destination address
 * (16 bytes each; an IPv4 address in the first 4, the rest 0), source and destination port
 * in network byte order. Compared with memcmp. */
typedef struct {
  uint8_t bytes[40];
} flow_key;

/* Reads the key of a TCP or UDP packet; returns 0 for anything else. It keys exactly the
 * packets the TypeScript decoder (src/decode) decodes as TCP or UDP, with the very same
 * protocol, addresses and ports: packets with equal keys are accounted alike, which is
 * what makes coalescing them exact, and every TCP/UDP packet can be coalesced. Both follow
 * the same link layers (Ethernet with VLAN tags and PPPoE sessions, Linux cooked SLL/SLL2,
 * raw IP, BSD loopback in either byte order), IPv4 with a total length of 0 (segmentation
 * offload) and IPv6 extension header chains. test/flow-key.test.ts checks the promise
 * packet by packet. link_type: LINKTYPE_*. */
int flow_key_read(const uint8_t *packet, uint32_t captured, int link_type, flow_key *key);

uint32_t flow_key_hash(const flow_key *key);

#endif
