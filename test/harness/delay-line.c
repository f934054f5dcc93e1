/* A delay line between two TUN devices, for the shaped speed test benchmarks on a kernel
 * without netem: every packet read from one device is written to the other DELAY_MS later,
 * in order, unless it is dropped (LOSS_PERCENT per direction, from a seeded generator, so
 * a run can be repeated). Built by the bench with `cc -O2`; see docs/speedtest.md
 * ("Benchmark: shaped rate with a 40 ms round trip") for why it replaced a Python line.
 *
 * Usage: delay-line TUN_A TUN_B DELAY_MS [LOSS_PERCENT [SEED]]
 * (one-way delay; run it in the namespace that routes through both devices).
 *
 * Timing: one thread, ppoll() with a nanosecond timeout and a 1 µs timer slack, so a
 * packet leaves within some microseconds of its due time when the CPU is free. Packets
 * wait in one byte ring per direction (the delay is the same for every packet, so FIFO
 * order is due-time order). A full ring drops the packet, as a full queue would. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define RING_BYTES (64u << 20) /* per direction: 600 Mbit/s × 20 ms is 1.5 MB */
#define MAX_PACKET 65536

struct ring {
	unsigned char *data;
	size_t head, tail; /* read at head, write at tail; both grow, taken modulo RING_BYTES */
	uint64_t dropped_full, dropped_loss;
};

struct entry { /* stored before each packet */
	uint64_t due_ns;
	uint32_t length;
	uint32_t pad; /* entries are 16 bytes and packets padded to 16: a skip marker always fits */
};

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int open_tun(const char *name) {
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
	if (fd < 0) { perror("/dev/net/tun"); exit(1); }
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror(name); exit(1); }
	return fd;
}

/* Room for an entry and its packet without wrapping inside it: an entry that would cross
 * the ring's end starts at 0 instead (a zero-length entry marks the skip). */
static size_t aligned(size_t n) { return (n + 15u) & ~(size_t)15u; }

static int ring_push(struct ring *r, uint64_t due, const unsigned char *packet, uint32_t length) {
	size_t need = sizeof(struct entry) + aligned(length);
	size_t at = r->tail % RING_BYTES;
	size_t skip = RING_BYTES - at < need ? RING_BYTES - at : 0;
	if (r->tail + skip + need - r->head > RING_BYTES) { r->dropped_full++; return 0; }
	if (skip) {
		struct entry marker = {0, 0, 0};
		memcpy(r->data + at, &marker, sizeof marker); /* fits: every size is a multiple of 16 */
		r->tail += skip;
		at = 0;
	}
	struct entry e = {due, length, 0};
	memcpy(r->data + at, &e, sizeof e);
	memcpy(r->data + at + sizeof e, packet, length);
	r->tail += need;
	return 1;
}

/* The oldest entry, or NULL when the ring is empty (skip markers are passed over). */
static struct entry *ring_front(struct ring *r) {
	while (r->head < r->tail) {
		size_t at = r->head % RING_BYTES;
		struct entry *e = (struct entry *)(r->data + at);
		if (e->length == 0 && e->due_ns == 0) { r->head += RING_BYTES - at; continue; }
		return e;
	}
	return NULL;
}

static void ring_pop(struct ring *r, struct entry *e) { r->head += sizeof *e + aligned(e->length); }

/* xorshift64*: a seeded, repeatable loss pattern. */
static uint64_t rng_state;
static double uniform(void) {
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: %s TUN_A TUN_B DELAY_MS [LOSS_PERCENT [SEED]]\n", argv[0]); return 2; }
	int fd[2] = {open_tun(argv[1]), open_tun(argv[2])};
	uint64_t delay = (uint64_t)(atof(argv[3]) * 1e6);
	double loss = argc > 4 ? atof(argv[4]) / 100.0 : 0.0;
	rng_state = argc > 5 ? strtoull(argv[5], NULL, 10) | 1u : 0x9E3779B97F4A7C15ull;
	struct ring rings[2]; /* rings[i] holds what was read from fd[i], to be written to fd[1 - i] */
	for (int i = 0; i < 2; i++) {
		memset(&rings[i], 0, sizeof rings[i]);
		rings[i].data = malloc(RING_BYTES);
		if (!rings[i].data) { perror("malloc"); return 1; }
	}
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	static unsigned char packet[MAX_PACKET];
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		uint64_t now = now_ns();
		uint64_t due = UINT64_MAX;
		for (int i = 0; i < 2; i++) {
			struct entry *e = ring_front(&rings[i]);
			if (e && e->due_ns < due) due = e->due_ns;
		}
		struct pollfd pfd[2] = {{fd[0], POLLIN, 0}, {fd[1], POLLIN, 0}};
		struct timespec wait, *timeout = NULL;
		if (due != UINT64_MAX) {
			uint64_t left = due > now ? due - now : 0;
			wait.tv_sec = (time_t)(left / 1000000000u);
			wait.tv_nsec = (long)(left % 1000000000u);
			timeout = &wait;
		}
		if (ppoll(pfd, 2, timeout, NULL) < 0 && errno != EINTR) { perror("ppoll"); return 1; }
		now = now_ns();
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & POLLIN)) continue;
			for (int n = 0; n < 256; n++) {
				ssize_t got = read(fd[i], packet, sizeof packet);
				if (got <= 0) break;
				if (loss > 0 && uniform() < loss) { rings[i].dropped_loss++; continue; }
				ring_push(&rings[i], now + delay, packet, (uint32_t)got);
			}
		}
		now = now_ns();
		for (int i = 0; i < 2; i++) {
			struct entry *e;
			while ((e = ring_front(&rings[i])) && e->due_ns <= now) {
				/* The kernel may refuse (device not up yet, queue full): that packet is lost, as on a wire. */
				if (write(fd[1 - i], (unsigned char *)e + sizeof *e, e->length) < 0) rings[i].dropped_full++;
				ring_pop(&rings[i], e);
			}
		}
	}
}
