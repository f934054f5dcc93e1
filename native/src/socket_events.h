// Kernel socket events (TCP connects and their owners) through eBPF; see socket_events.c.
#ifndef NETMETER_SOCKET_EVENTS_H
#define NETMETER_SOCKET_EVENTS_H

#include <stddef.h>

/* One event: the tracepoint record's bytes 8..71 (offsets as the tracepoint's format file
 * says, minus 8), then the pid_tgid and uid_gid of the task that fired it (tgid, the process
 * id, in the high 32 bits; uid in the low 32 bits), its command name (16 bytes, NUL-padded),
 * and the kind given for that tracepoint. */
#define SOCKET_EVENT_RECORD_BYTES 64
#define SOCKET_EVENT_PID_AT 64
#define SOCKET_EVENT_UID_AT 72
#define SOCKET_EVENT_COMM_AT 80
#define SOCKET_EVENT_KIND_AT 96
#define SOCKET_EVENT_SIZE 104

#define SOCKET_EVENTS_MAX_TRACEPOINTS 4

enum socket_events_filter {
  SOCKET_EVENTS_FILTER_NONE = 0,
  SOCKET_EVENTS_FILTER_SYN_SENT = 1,     /* at: oldstate, at2: newstate (s32 each) */
  SOCKET_EVENTS_FILTER_NONZERO_BYTE = 2, /* at: a flag byte */
};

typedef struct {
  int id;     /* the tracepoint's id in tracefs */
  int kind;   /* copied into each event, to tell the tracepoints apart */
  int filter; /* enum socket_events_filter */
  int at;     /* record offsets the filter reads */
  int at2;
  int copy;   /* record bytes to copy from offset 8: a multiple of 8, at most 64, within the record */
} socket_events_tracepoint;

typedef struct socket_events socket_events;

/* Loads a program per tracepoint and attaches it. On failure: NULL, errno set, *action says
 * what failed, and log (if given) holds the verifier's words when a load was refused. */
socket_events *socket_events_open(const socket_events_tracepoint *tracepoints, size_t count,
                                  char *log, size_t log_size, const char **action);

/* Copies the waiting events (whole ones, up to capacity bytes) and returns the bytes copied.
 * Never blocks. */
size_t socket_events_read(socket_events *events, unsigned char *out, size_t capacity);

/* The ring buffer's file descriptor: readable (poll, epoll) while events wait to be read. */
int socket_events_fd(const socket_events *events);

void socket_events_close(socket_events *events);

#endif
