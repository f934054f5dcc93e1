// A batch of captured packets in one block of memory that JavaScript can see without a
// copy, and the process-wide pool that recycles such blocks once JavaScript lets go of them.
#ifndef NETMETER_LIVE_BATCH_H
#define NETMETER_LIVE_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* memory holds, in this order: a header of two u32 (count, used) padded to 16 bytes; the
 * timestamp, last_timestamp (f64), offset, captured, wire, packets (u32) and interface
 * (u16) arrays of packet_capacity entries each; then, 8-aligned, the captured bytes
 * (data_capacity). One ArrayBuffer over its first live_batch_data_at() + used bytes holds
 * the whole batch.
 *
 * An entry is one packet, or several packets of one flow direction coalesced by the
 * capture (live_capture.c): then its captured bytes are its first packet's, timestamp and
 * last_timestamp its first and last packet's, wire the sum of their wire lengths and
 * packets how many there were. */
typedef struct live_batch {
  struct live_batch *next_free;
  uint32_t packet_capacity;
  uint32_t data_capacity;
  size_t size; /* bytes of memory */
  uint8_t *memory;
  uint8_t *data;
  double *timestamp;      /* seconds since the epoch */
  double *last_timestamp; /* of the entry's last packet */
  uint32_t *offset;
  uint32_t *captured;
  uint32_t *wire;
  uint32_t *packets; /* packets per entry */
  uint16_t *interface_index;
  uint32_t count;     /* entries */
  uint32_t used;      /* bytes of data in use */
  int64_t started_ms; /* monotonic time of the first packet */
} live_batch;

/* A batch of this shape, from the pool when one is free (its pages already touched), else
 * newly allocated; NULL when out of memory. count and used are 0. */
live_batch *live_batch_get(uint32_t packet_capacity, uint32_t data_capacity);

/* Gives a batch back to the pool (or frees it when the pool is full). Any thread. */
void live_batch_put(live_batch *batch);

/* Byte offsets of the arrays within memory. */
size_t live_batch_timestamp_at(const live_batch *batch);
size_t live_batch_last_timestamp_at(const live_batch *batch);
size_t live_batch_offset_at(const live_batch *batch);
size_t live_batch_captured_at(const live_batch *batch);
size_t live_batch_wire_at(const live_batch *batch);
size_t live_batch_packets_at(const live_batch *batch);
size_t live_batch_interface_at(const live_batch *batch);
size_t live_batch_data_at(const live_batch *batch);

/* Writes count and used into the header, for JavaScript to read. */
void live_batch_seal(live_batch *batch);

#endif
