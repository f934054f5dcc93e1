// One live capture: a libpcap handle read on a thread of its own into a bounded set of
// batches, free of N-API so the capture loop never touches JavaScript.
#ifndef NETMETER_LIVE_CAPTURE_H
#define NETMETER_LIVE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "live_batch.h"

typedef struct live_capture live_capture;

typedef struct {
  const char *device;
  const char *filter;       /* "" or NULL: no filter */
  int snap_length;
  int buffer_bytes;
  int promisc;
  int timeout_ms;           /* pcap_set_timeout: how long a kernel block may stay open */
  int flush_ms;             /* longest a started batch waits before it is handed on */
  uint32_t batch_packets;   /* entries per batch: packets, or flow directions when coalescing */
  uint32_t batch_bytes;     /* captured bytes per batch (at least snap_length) */
  uint32_t max_batches;     /* full batches that may wait for JavaScript */
  uint16_t interface_index; /* written into every packet of this capture */
  int coalesce;             /* one batch entry per flow direction (see live_batch.h) */
} live_capture_options;

typedef enum {
  LIVE_OPENING,
  LIVE_RUNNING,
  LIVE_FAILED, /* opening or capturing failed; error_code and error say why */
  LIVE_CLOSED, /* stopped on request; no packet will be added */
} live_phase;

typedef struct {
  live_phase phase;
  int link_type;          /* LINKTYPE_* number, -1 until opened */
  int nano;               /* timestamps have nanosecond precision */
  const char *error_code; /* EPERM, ENODEV, ENETDOWN, EFILTER, ECAPTURE, ERROR; NULL when none */
  char error[512];
  char warning[512];      /* pcap_activate's warning text, "" when none */
  uint64_t received;      /* pcap_stats ps_recv, accumulated beyond 32 bits */
  uint64_t dropped_by_kernel;
  uint64_t dropped_by_interface;
  uint64_t dropped_by_netmeter; /* captured, then dropped because no batch was free */
} live_capture_status;

/* Called from the capture thread when a batch is ready or the phase changed; at most once
 * until live_capture_clear_notify() is called, so a slow consumer sees one pending call. */
typedef void (*live_capture_notify)(void *context);

/* Starts the capture thread (which opens the device); NULL with message on failure. */
live_capture *live_capture_start(const live_capture_options *options, live_capture_notify notify,
                                 void *context, char *message, size_t message_size);

/* Asks the thread to stop; returns at once. With linger the thread first waits up to one
 * kernel timeout for packets already in the ring, else it stops as soon as it can. */
void live_capture_stop(live_capture *capture, int linger);

/* Waits for the thread to end (after live_capture_stop, or after it failed). */
void live_capture_join(live_capture *capture);

void live_capture_clear_notify(live_capture *capture);

/* The oldest full batch, or NULL. It is the caller's from then on: live_batch_put() it. */
live_batch *live_capture_take(live_capture *capture);

void live_capture_get_status(live_capture *capture, live_capture_status *status);

/* libpcap's version text, as pcap_lib_version() gives it. */
const char *live_capture_library_version(void);

/* Frees everything; the thread must have been joined. */
void live_capture_free(live_capture *capture);

#endif
