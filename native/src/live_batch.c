// Batches and their pool. JavaScript holds a batch's memory through an external ArrayBuffer
// and gives it back when the garbage collector frees that buffer; recycling the blocks
// (rather than freeing them and allocating new ones) is what keeps the capture from paying
// a page fault for every few dozen packets, which cost more than everything else together.
#include "live_batch.h"

#include <pthread.h>
#include <stdlib.h>

/* Free blocks kept for reuse; beyond this they are freed. 64 MiB is ~60 default batches. */
#define POOL_MAX_BYTES ((size_t)64 * 1024 * 1024)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static live_batch *pool_head;
static size_t pool_bytes;

static size_t align8(size_t n) {
  return (n + 7) & ~(size_t)7;
}

#define HEADER_BYTES 16

size_t live_batch_timestamp_at(const live_batch *b) {
  (void)b;
  return HEADER_BYTES;
}
size_t live_batch_last_timestamp_at(const live_batch *b) {
  return live_batch_timestamp_at(b) + (size_t)b->packet_capacity * 8;
}
size_t live_batch_offset_at(const live_batch *b) {
  return live_batch_last_timestamp_at(b) + (size_t)b->packet_capacity * 8;
}
size_t live_batch_captured_at(const live_batch *b) {
  return live_batch_offset_at(b) + (size_t)b->packet_capacity * 4;
}
size_t live_batch_wire_at(const live_batch *b) {
  return live_batch_captured_at(b) + (size_t)b->packet_capacity * 4;
}
size_t live_batch_packets_at(const live_batch *b) {
  return live_batch_wire_at(b) + (size_t)b->packet_capacity * 4;
}
size_t live_batch_interface_at(const live_batch *b) {
  return live_batch_packets_at(b) + (size_t)b->packet_capacity * 4;
}
size_t live_batch_data_at(const live_batch *b) {
  return align8(live_batch_interface_at(b) + (size_t)b->packet_capacity * 2);
}

void live_batch_seal(live_batch *b) {
  uint32_t *header = (uint32_t *)b->memory;
  header[0] = b->count;
  header[1] = b->used;
}

static live_batch *allocate(uint32_t packet_capacity, uint32_t data_capacity) {
  live_batch *b = calloc(1, sizeof *b);
  if (b == NULL) return NULL;
  b->packet_capacity = packet_capacity;
  b->data_capacity = data_capacity;
  b->size = live_batch_data_at(b) + data_capacity;
  b->memory = malloc(b->size);
  if (b->memory == NULL) {
    free(b);
    return NULL;
  }
  b->data = b->memory + live_batch_data_at(b);
  b->timestamp = (double *)(b->memory + live_batch_timestamp_at(b));
  b->last_timestamp = (double *)(b->memory + live_batch_last_timestamp_at(b));
  b->offset = (uint32_t *)(b->memory + live_batch_offset_at(b));
  b->captured = (uint32_t *)(b->memory + live_batch_captured_at(b));
  b->wire = (uint32_t *)(b->memory + live_batch_wire_at(b));
  b->packets = (uint32_t *)(b->memory + live_batch_packets_at(b));
  b->interface_index = (uint16_t *)(b->memory + live_batch_interface_at(b));
  return b;
}

live_batch *live_batch_get(uint32_t packet_capacity, uint32_t data_capacity) {
  live_batch *b = NULL;
  pthread_mutex_lock(&pool_lock);
  for (live_batch **at = &pool_head; *at != NULL; at = &(*at)->next_free) {
    if ((*at)->packet_capacity == packet_capacity && (*at)->data_capacity == data_capacity) {
      b = *at;
      *at = b->next_free;
      pool_bytes -= b->size;
      break;
    }
  }
  pthread_mutex_unlock(&pool_lock);
  if (b == NULL) b = allocate(packet_capacity, data_capacity);
  if (b != NULL) {
    b->next_free = NULL;
    b->count = 0;
    b->used = 0;
  }
  return b;
}

void live_batch_put(live_batch *b) {
  if (b == NULL) return;
  pthread_mutex_lock(&pool_lock);
  int keep = pool_bytes + b->size <= POOL_MAX_BYTES;
  if (keep) {
    b->next_free = pool_head;
    pool_head = b;
    pool_bytes += b->size;
  }
  pthread_mutex_unlock(&pool_lock);
  if (!keep) {
    free(b->memory);
    free(b);
  }
}
