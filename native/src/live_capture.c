// One live capture on a thread of its own: libpcap with TPACKET_V3 (no immediate mode), so
// the kernel fills whole blocks of packets and wakes the thread once per block, or after
// the block timeout when packets are few. The thread copies each packet's kept bytes and
// its pcap header into a batch, and hands full (or old enough) batches to the consumer
// through a bounded queue. A full queue drops packets here, counted, rather than letting
// memory grow or holding up the kernel's ring.
//
// With coalescing on, the packets of one flow direction (TCP or UDP, same addresses and
// ports, flow_key.c) in a batch share one entry: its first packet's bytes, the sum of the
// wire lengths, the packet count, the first and last timestamps. That is all the meter
// takes from a packet after the first of its flow direction, so the accounting is the
// same, and JavaScript handles tens of entries a batch instead of thousands of packets.
#define _GNU_SOURCE /* pthread_setname_np */
#include "live_capture.h"
#include "flow_key.h"

#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* How often the thread refreshes its copy of pcap_stats (one getsockopt each). */
#define STATS_INTERVAL_MS 100
/* Extra wait, past the kernel's block timeout, for the last block to be retired on close. */
#define LINGER_SLACK_MS 10
#define LINGER_POLL_NS (2 * 1000 * 1000)
/* Longest the thread sleeps on a quiet link: it then checks that the interface is still up
 * and refreshes the kernel's counters. An interface taken down or removed wakes the poll
 * sooner (the kernel sets an error on the packet socket: POLLERR), so this is only the
 * backstop for an error libpcap's own read took first; each wake of an idle capture is CPU
 * for nothing (there are two per device with host names on). */
#define IDLE_CHECK_MS 2000
/* On a busy link — two reads that found packets within 2 x BUSY_REST_MS — the thread rests
 * this long before it looks at the socket again, and then finds several blocks ready
 * instead of one. Every look (poll) takes the packet socket's queue lock, which the kernel
 * also takes for every packet it puts in the ring: under load, contention for that lock
 * was most of the thread's CPU. (A quiet link's blocks come at most every timeout_ms.)
 * It rests only while a read took less than a quarter of the ring, so a rest at the same
 * rate fills at most that much: past ~1,000,000 small packets/s it reads block by block. */
#define BUSY_REST_MS 20
/* Ring bytes a packet takes besides its captured bytes: TPACKET_V3 header, sockaddr_ll, alignment. */
#define RING_PACKET_OVERHEAD 96
/* A batch that holds a flow direction the batch before it did not is handed on this soon
 * after it started, instead of after flush_ms: the meter looks for the owner of a new
 * socket when it first sees it, and a short-lived process may be gone 100 ms later. At
 * most one such hand-on per this many ms, however many flows come and go. */
#define NEW_FLOW_FLUSH_MS 10

struct live_capture {
  live_capture_options options; /* device and filter point at the copies below */
  char *device;
  char *filter;
  live_capture_notify notify;
  void *context;
  pthread_t thread;
  int thread_started;
  int joined;

  pthread_mutex_t lock;
  /* Under lock. */
  live_capture_status status;
  int notify_pending;
  live_batch **full; /* ring of batches waiting for the consumer, oldest at full_head */
  size_t full_head;
  size_t full_count;

  /* Read without the lock. */
  atomic_int stop_requested;
  atomic_int linger;
  atomic_size_t held; /* batches queued or being filled: at most batch_total */
  atomic_uint_fast64_t dropped;

  /* Only the capture thread touches these. */
  live_batch *filling;
  int link_type; /* LINKTYPE_* of the open device */
  /* Coalescing (options.coalesce): the filling batch's entries by flow key, an open-
   * addressing table of entry index + 1 (0: free), and each entry's key; the same of the
   * batch handed on before it; and whether the filling batch holds a flow that one did not. */
  uint32_t *entry_of_slot;
  uint32_t slot_mask;
  flow_key *entry_key;
  uint32_t *previous_entry_of_slot;
  flow_key *previous_entry_key;
  int new_flow;
  size_t ring_bytes_read; /* by the current read_ready(), estimated */
  double ts_fraction; /* what tv_usec counts per second: 1e9 (nanoseconds) or 1e6 */
  int64_t last_stats_ms;
  unsigned int last_recv;
  unsigned int last_drop;
  unsigned int last_ifdrop;

  int stop_fd; /* eventfd written by live_capture_stop */

  size_t batch_total; /* max_batches + 1, the one being filled */
};

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* libpcap reports a DLT; the pcap formats (and netmeter's LinkType) use LINKTYPE numbers,
 * the same for all but a few old values, which differ by platform (these are Linux's). */
static int linktype_of_dlt(int dlt) {
  switch (dlt) {
    case 11: return 100; /* DLT_ATM_RFC1483 */
    case 12: return 101; /* DLT_RAW */
    case 15: return 102; /* DLT_SLIP_BSDOS */
    case 16: return 103; /* DLT_PPP_BSDOS */
    case 19: return 106; /* DLT_ATM_CLIP */
    default: return dlt;
  }
}

static void copy_text(char *out, size_t size, const char *text) {
  snprintf(out, size, "%s", text ? text : "");
  /* A user sees this as one line. */
  for (char *c = out; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  size_t n = strlen(out);
  while (n > 0 && out[n - 1] == ' ') out[--n] = '\0';
}

static void notify_consumer(live_capture *c) {
  pthread_mutex_lock(&c->lock);
  int call = !c->notify_pending;
  c->notify_pending = 1;
  pthread_mutex_unlock(&c->lock);
  if (call) c->notify(c->context);
}

/* Queues a batch the thread has filled; there is always room, as the ring holds every batch. */
static void hand_on(live_capture *c, live_batch *b) {
  pthread_mutex_lock(&c->lock);
  c->full[(c->full_head + c->full_count) % c->batch_total] = b;
  c->full_count++;
  int call = !c->notify_pending;
  c->notify_pending = 1;
  pthread_mutex_unlock(&c->lock);
  if (call) c->notify(c->context);
}

/* A batch to fill, or NULL when the consumer is so far behind that every batch the capture
 * may hold is queued: the packet is then dropped. */
static live_batch *acquire(live_capture *c) {
  if (atomic_load(&c->held) >= c->batch_total) return NULL;
  live_batch *b = live_batch_get(c->options.batch_packets, c->options.batch_bytes);
  if (b != NULL) atomic_fetch_add(&c->held, 1);
  return b;
}

static void flush_filling(live_capture *c) {
  if (c->filling != NULL && c->filling->count > 0) {
    hand_on(c, c->filling);
    c->filling = NULL;
  }
}

/* The slot of key in a batch's table: the one holding its entry, or the free one where it
 * goes. A table has twice as many slots as a batch has entries: never full. */
static uint32_t *slot_in(uint32_t *entry_of_slot, const flow_key *entry_key, uint32_t mask, const flow_key *key) {
  for (uint32_t i = flow_key_hash(key) & mask;; i = (i + 1) & mask) {
    uint32_t *slot = &entry_of_slot[i];
    if (*slot == 0 || memcmp(&entry_key[*slot - 1], key, sizeof *key) == 0) return slot;
  }
}

static uint32_t *slot_of(live_capture *c, const flow_key *key) {
  return slot_in(c->entry_of_slot, c->entry_key, c->slot_mask, key);
}

/* A new batch's table starts empty; the one it replaces is kept as the previous batch's. */
static void start_flow_table(live_capture *c) {
  uint32_t *slots = c->previous_entry_of_slot;
  flow_key *keys = c->previous_entry_key;
  c->previous_entry_of_slot = c->entry_of_slot;
  c->previous_entry_key = c->entry_key;
  c->entry_of_slot = slots;
  c->entry_key = keys;
  memset(c->entry_of_slot, 0, ((size_t)c->slot_mask + 1) * sizeof *c->entry_of_slot);
  c->new_flow = 0;
}

/* When the filling batch (which has packets) is due to be handed on. */
static int64_t hand_on_at(const live_capture *c) {
  return c->filling->started_ms + (c->new_flow ? NEW_FLOW_FLUSH_MS : c->options.flush_ms);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *header, const u_char *bytes) {
  live_capture *c = (live_capture *)user;
  live_batch *b = c->filling;
  c->ring_bytes_read += header->caplen + RING_PACKET_OVERHEAD;
  double ts = (double)header->ts.tv_sec + (double)header->ts.tv_usec / c->ts_fraction;
  flow_key key;
  int keyed = c->options.coalesce && flow_key_read(bytes, header->caplen, c->link_type, &key);
  if (keyed && b != NULL) {
    uint32_t *slot = slot_of(c, &key);
    uint32_t e = *slot - 1;
    /* Unless the entry's counters are full: the flow's next packets then start a new one. */
    if (*slot != 0 && b->packets[e] < UINT32_MAX && b->wire[e] <= UINT32_MAX - header->len) {
      b->packets[e]++;
      b->wire[e] += header->len;
      b->last_timestamp[e] = ts;
      return;
    }
  }
  uint32_t captured = header->caplen;
  if (captured > c->options.batch_bytes) captured = c->options.batch_bytes; /* never: snap <= batch_bytes */
  if (b != NULL && (b->count == c->options.batch_packets || b->used + captured > c->options.batch_bytes)) {
    hand_on(c, b);
    b = c->filling = NULL;
  }
  if (b == NULL) {
    b = c->filling = acquire(c);
    if (b == NULL) {
      atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
      return;
    }
    if (c->options.coalesce) start_flow_table(c);
  }
  uint32_t i = b->count++;
  if (i == 0) b->started_ms = now_ms();
  if (keyed) {
    *slot_of(c, &key) = i + 1;
    c->entry_key[i] = key;
    if (!c->new_flow && *slot_in(c->previous_entry_of_slot, c->previous_entry_key, c->slot_mask, &key) == 0) c->new_flow = 1;
  }
  b->offset[i] = b->used;
  b->captured[i] = captured;
  b->wire[i] = header->len;
  b->packets[i] = 1;
  b->timestamp[i] = ts;
  b->last_timestamp[i] = ts;
  b->interface_index[i] = c->options.interface_index;
  memcpy(b->data + b->used, bytes, captured);
  b->used += captured;
}

static void refresh_stats(live_capture *c, pcap_t *p) {
  struct pcap_stat s;
  if (pcap_stats(p, &s) != 0) return;
  pthread_mutex_lock(&c->lock);
  /* libpcap keeps 32-bit running totals: the differences survive their wrapping. */
  c->status.received += (unsigned int)(s.ps_recv - c->last_recv);
  c->status.dropped_by_kernel += (unsigned int)(s.ps_drop - c->last_drop);
  c->status.dropped_by_interface += (unsigned int)(s.ps_ifdrop - c->last_ifdrop);
  pthread_mutex_unlock(&c->lock);
  c->last_recv = s.ps_recv;
  c->last_drop = s.ps_drop;
  c->last_ifdrop = s.ps_ifdrop;
}

static void fail(live_capture *c, const char *code, const char *message) {
  pthread_mutex_lock(&c->lock);
  c->status.phase = LIVE_FAILED;
  c->status.error_code = code;
  copy_text(c->status.error, sizeof c->status.error, message);
  pthread_mutex_unlock(&c->lock);
}

static const char *activate_error_code(int status) {
  switch (status) {
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return "EPERM";
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return "ENODEV";
    case PCAP_ERROR_IFACE_NOT_UP:
      return "ENETDOWN";
    default:
      return "ERROR";
  }
}

/* Creates, configures and activates the handle, and installs the filter; NULL after fail(). */
static pcap_t *open_device(live_capture *c) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_create(c->device, errbuf);
  if (p == NULL) {
    fail(c, "ERROR", errbuf);
    return NULL;
  }
  pcap_set_snaplen(p, c->options.snap_length);
  pcap_set_promisc(p, c->options.promisc);
  pcap_set_timeout(p, c->options.timeout_ms);
  pcap_set_buffer_size(p, c->options.buffer_bytes);
  /* Not immediate: TPACKET_V3 hands over whole blocks, one wakeup for many packets. */
  pcap_set_immediate_mode(p, 0);
  /* Nanoseconds cost nothing; a double keeps ~0.2 µs of them, more than microseconds. */
  int nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
  int status = pcap_activate(p);
  if (status < 0) {
    const char *text = pcap_geterr(p);
    char message[PCAP_ERRBUF_SIZE + 64];
    snprintf(message, sizeof message, "%s", text && *text ? text : pcap_statustostr(status));
    fail(c, activate_error_code(status), message);
    pcap_close(p);
    return NULL;
  }
  if (status > 0) {
    const char *text = pcap_geterr(p);
    pthread_mutex_lock(&c->lock);
    copy_text(c->status.warning, sizeof c->status.warning,
              text && *text ? text : pcap_statustostr(status));
    pthread_mutex_unlock(&c->lock);
  }
  nano = nano && pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
  c->ts_fraction = nano ? 1e9 : 1e6;
  pthread_mutex_lock(&c->lock);
  c->status.nano = nano;
  pthread_mutex_unlock(&c->lock);
  /* Always a filter, "" when none was asked for: a compiled filter accepts a packet by
   * returning the snap length, and that return is what makes the kernel cut the packet
   * before it copies it into the ring. Without one, TPACKET_V3 stores each packet whole: a
   * 64 KiB loopback segment took 64 KiB of the 8 MiB ring, not ~340 bytes, and a burst of
   * loopback TCP overflowed it. */
  struct bpf_program program;
  if (pcap_compile(p, &program, c->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    fail(c, "EFILTER", pcap_geterr(p));
    pcap_close(p);
    return NULL;
  }
  int set = pcap_setfilter(p, &program);
  pcap_freecode(&program);
  if (set != 0) {
    fail(c, "EFILTER", pcap_geterr(p));
    pcap_close(p);
    return NULL;
  }
  /* The thread waits in its own poll(), which also watches for a stop. */
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    fail(c, "ERROR", errbuf);
    pcap_close(p);
    return NULL;
  }
  return p;
}

/* Whether the interface is still up, asked through the capture's own socket (so in its
 * network namespace): libpcap 1.10 reports a removed interface, but on one taken down it
 * only waits, for ever, for it to come back. Sets *gone when the interface no longer exists. */
static int interface_up(live_capture *c, pcap_t *p, int *gone) {
  *gone = 0;
  if (strcmp(c->device, "any") == 0) return 1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  snprintf(request.ifr_name, sizeof request.ifr_name, "%s", c->device);
  if (ioctl(pcap_fileno(p), SIOCGIFFLAGS, &request) != 0) {
    *gone = errno == ENODEV || errno == ENXIO;
    return !*gone; /* any other failure: assume up, the capture itself will tell */
  }
  return (request.ifr_flags & IFF_UP) != 0;
}

/* Reads every block the kernel has handed over; PCAP_ERROR or the number of packets. */
static int read_ready(live_capture *c, pcap_t *p) {
  int total = 0;
  c->ring_bytes_read = 0;
  /* One block per call; bounded so a flood cannot keep the loop from its other duties. */
  for (int round = 0; round < 64; round++) {
    int n = pcap_dispatch(p, -1, on_packet, (u_char *)c);
    if (n == PCAP_ERROR) return PCAP_ERROR;
    if (n <= 0) break;
    total += n;
  }
  return total;
}

/* After a stop with linger: packets the kernel already accepted sit in a block it retires
 * within one timeout; read them until that has passed. */
static void drain(live_capture *c, pcap_t *p) {
  int64_t deadline = now_ms() + c->options.timeout_ms + LINGER_SLACK_MS;
  for (;;) {
    if (read_ready(c, p) == PCAP_ERROR) return;
    if (now_ms() >= deadline || !atomic_load(&c->linger)) return;
    struct timespec pause = {0, LINGER_POLL_NS};
    nanosleep(&pause, NULL);
  }
}

/* The capture loop. The handle is non-blocking and the thread waits in its own poll(), on
 * the packet socket and on stop_fd, so that it wakes for a stop, for a batch that is due
 * (hand_on_at), and now and then to look at the interface and the kernel's counters.
 * After a busy read it waits on stop_fd alone for BUSY_REST_MS, then reads. */
static int capture_loop(live_capture *c, pcap_t *p) {
  struct pollfd fds[2] = {{.fd = pcap_fileno(p), .events = POLLIN}, {.fd = c->stop_fd, .events = POLLIN}};
  int64_t last_check = now_ms();
  int64_t rest_until = 0;
  int64_t last_packets_at = INT64_MIN / 2;
  while (!atomic_load(&c->stop_requested)) {
    int64_t now = now_ms();
    int timeout = IDLE_CHECK_MS;
    if (c->filling != NULL && c->filling->count > 0) {
      int64_t left = hand_on_at(c) - now;
      timeout = left <= 0 ? 0 : left < timeout ? (int)left : timeout;
    }
    int resting = now < rest_until;
    if (resting && rest_until - now < timeout) timeout = (int)(rest_until - now);
    fds[0].revents = fds[1].revents = 0;
    int ready = resting ? poll(&fds[1], 1, timeout) : poll(fds, 2, timeout);
    if (ready < 0 && errno != EINTR) {
      char message[128];
      snprintf(message, sizeof message, "cannot wait for packets: %s", strerror(errno));
      flush_filling(c);
      fail(c, "ECAPTURE", message);
      return 0;
    }
    if (ready > 0 && fds[1].revents != 0) break; /* stop */
    int packets = read_ready(c, p);
    if (packets == PCAP_ERROR) {
      flush_filling(c); /* what was captured before the error is still delivered */
      refresh_stats(c, p);
      fail(c, "ECAPTURE", pcap_geterr(p));
      return 0;
    }
    now = now_ms();
    if (packets > 0) {
      int busy = now - last_packets_at <= 2 * BUSY_REST_MS;
      int room = c->ring_bytes_read < (size_t)c->options.buffer_bytes / 4;
      rest_until = busy && room ? now + BUSY_REST_MS : 0;
      last_packets_at = now;
    }
    if (c->filling != NULL && c->filling->count > 0 && now >= hand_on_at(c)) flush_filling(c);
    /* A quiet socket, or one with an error pending, may be an interface gone down. */
    int quiet = (!resting && ready == 0) || (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
    if (quiet || now - last_check >= IDLE_CHECK_MS) {
      int gone;
      if (!interface_up(c, p, &gone)) {
        flush_filling(c);
        refresh_stats(c, p);
        fail(c, "ECAPTURE", gone ? "The interface disappeared" : "The interface went down");
        return 0;
      }
      last_check = now;
    }
    if (now - c->last_stats_ms >= STATS_INTERVAL_MS) {
      refresh_stats(c, p);
      c->last_stats_ms = now;
    }
  }
  return 1;
}

static void *capture_main(void *arg) {
  live_capture *c = arg;
  /* So that top -H, and the live benchmark, can tell the capture's CPU from Node's threads. */
  pthread_setname_np(pthread_self(), "nm-capture");
  pcap_t *p = open_device(c);
  if (p == NULL) {
    notify_consumer(c);
    return NULL;
  }
  pthread_mutex_lock(&c->lock);
  c->status.phase = LIVE_RUNNING;
  c->status.link_type = c->link_type = linktype_of_dlt(pcap_datalink(p));
  pthread_mutex_unlock(&c->lock);
  notify_consumer(c);

  c->last_stats_ms = now_ms();
  if (capture_loop(c, p)) {
    if (atomic_load(&c->linger)) drain(c, p);
    flush_filling(c);
    refresh_stats(c, p);
    pthread_mutex_lock(&c->lock);
    c->status.phase = LIVE_CLOSED;
    pthread_mutex_unlock(&c->lock);
  }
  pcap_close(p);
  notify_consumer(c);
  return NULL;
}

live_capture *live_capture_start(const live_capture_options *options, live_capture_notify notify,
                                 void *context, char *message, size_t message_size) {
  live_capture *c = calloc(1, sizeof *c);
  if (c == NULL) {
    snprintf(message, message_size, "out of memory");
    return NULL;
  }
  c->stop_fd = -1;
  c->options = *options;
  if (c->options.batch_packets == 0) c->options.batch_packets = 1;
  if (c->options.batch_bytes < (uint32_t)c->options.snap_length)
    c->options.batch_bytes = (uint32_t)c->options.snap_length;
  if (c->options.max_batches == 0) c->options.max_batches = 1;
  c->notify = notify;
  c->context = context;
  c->status.phase = LIVE_OPENING;
  c->status.link_type = -1;
  atomic_init(&c->stop_requested, 0);
  atomic_init(&c->linger, 0);
  atomic_init(&c->held, 0);
  atomic_init(&c->dropped, 0);
  pthread_mutex_init(&c->lock, NULL);
  c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->stop_fd < 0) {
    snprintf(message, message_size, "cannot create the capture's stop event: %s", strerror(errno));
    live_capture_free(c);
    return NULL;
  }
  c->device = strdup(options->device);
  c->filter = strdup(options->filter ? options->filter : "");
  c->batch_total = (size_t)c->options.max_batches + 1;
  c->full = calloc(c->batch_total, sizeof *c->full);
  if (c->device == NULL || c->filter == NULL || c->full == NULL) {
    snprintf(message, message_size, "out of memory for the capture batches");
    live_capture_free(c);
    return NULL;
  }
  c->options.device = c->device;
  c->options.filter = c->filter;
  if (c->options.coalesce) {
    /* Twice as many slots as a batch has entries, a power of two: probes stay short. */
    size_t slots = 1;
    while (slots < (size_t)c->options.batch_packets * 2) slots *= 2;
    c->slot_mask = (uint32_t)(slots - 1);
    c->entry_of_slot = calloc(slots, sizeof *c->entry_of_slot);
    c->entry_key = calloc(c->options.batch_packets, sizeof *c->entry_key);
    c->previous_entry_of_slot = calloc(slots, sizeof *c->previous_entry_of_slot);
    c->previous_entry_key = calloc(c->options.batch_packets, sizeof *c->previous_entry_key);
    if (c->entry_of_slot == NULL || c->entry_key == NULL || c->previous_entry_of_slot == NULL ||
        c->previous_entry_key == NULL) {
      snprintf(message, message_size, "out of memory for the capture's flow table");
      live_capture_free(c);
      return NULL;
    }
  }

  /* Signals stay with Node's threads: the capture thread starts with all of them blocked. */
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  int error = pthread_create(&c->thread, NULL, capture_main, c);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  if (error != 0) {
    snprintf(message, message_size, "cannot start the capture thread: %s", strerror(error));
    live_capture_free(c);
    return NULL;
  }
  c->thread_started = 1;
  return c;
}

void live_capture_stop(live_capture *c, int linger) {
  atomic_store(&c->linger, linger);
  atomic_store(&c->stop_requested, 1);
  uint64_t one = 1;
  /* Wakes the thread's poll(); a full counter (never, in practice) has woken it already. */
  ssize_t written = write(c->stop_fd, &one, sizeof one);
  (void)written;
}

void live_capture_join(live_capture *c) {
  if (c->thread_started && !c->joined) {
    pthread_join(c->thread, NULL);
    c->joined = 1;
  }
}

void live_capture_clear_notify(live_capture *c) {
  pthread_mutex_lock(&c->lock);
  c->notify_pending = 0;
  pthread_mutex_unlock(&c->lock);
}

live_batch *live_capture_take(live_capture *c) {
  live_batch *b = NULL;
  pthread_mutex_lock(&c->lock);
  if (c->full_count > 0) {
    b = c->full[c->full_head];
    c->full_head = (c->full_head + 1) % c->batch_total;
    c->full_count--;
    atomic_fetch_sub(&c->held, 1);
  }
  pthread_mutex_unlock(&c->lock);
  return b;
}

void live_capture_get_status(live_capture *c, live_capture_status *status) {
  pthread_mutex_lock(&c->lock);
  *status = c->status;
  pthread_mutex_unlock(&c->lock);
  status->dropped_by_netmeter = atomic_load(&c->dropped);
}

void live_capture_free(live_capture *c) {
  if (c == NULL) return;
  /* The thread has ended: what it queued and what it was filling go back to the pool. */
  for (size_t i = 0; i < c->full_count; i++) live_batch_put(c->full[(c->full_head + i) % c->batch_total]);
  live_batch_put(c->filling);
  free(c->full);
  free(c->entry_of_slot);
  free(c->entry_key);
  free(c->previous_entry_of_slot);
  free(c->previous_entry_key);
  free(c->device);
  free(c->filter);
  if (c->stop_fd >= 0) close(c->stop_fd);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

const char *live_capture_library_version(void) {
  return pcap_lib_version();
}
