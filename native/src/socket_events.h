// Kernel socket events: netmeter's BPF programs (native/bpf/socket_owners.bpf.o) loaded
// with libbpf, and their ring buffer; see socket_events.c.
#ifndef NETMETER_SOCKET_EVENTS_H
#define NETMETER_SOCKET_EVENTS_H

#include <stddef.h>

#include "../bpf/socket_owner_event.h"

typedef struct socket_events socket_events;

/* Loads the BPF object (the bytes of socket_owners.bpf.o) and attaches its programs: with
 * cgroup (the root cgroup v2 directory), all of them, the socket hooks on that cgroup;
 * without (NULL), only the tracepoints. The programs tell only of sockets in this process's
 * network namespace. On failure: NULL, errno set, *action says what failed, and log (if
 * given) holds libbpf's and the verifier's words. */
socket_events *socket_events_open(const void *object, size_t size, const char *cgroup,
                                  char *log, size_t log_size, const char **action);

/* Copies the waiting events (whole ones, up to capacity bytes, SOCKET_EVENT_SIZE each) and
 * returns the bytes copied. Never blocks. */
size_t socket_events_read(socket_events *events, unsigned char *out, size_t capacity);

/* A file descriptor that is readable (poll, epoll) while events wait to be read. */
int socket_events_fd(const socket_events *events);

/* Events the kernel dropped since loading because the ring was full. */
unsigned long long socket_events_lost(const socket_events *events);

void socket_events_close(socket_events *events);

#endif
