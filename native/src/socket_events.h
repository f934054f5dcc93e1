// Kernel socket events (TCP connects and their owners) through eBPF; see socket_events.c.
#ifndef NETMETER_SOCKET_EVENTS_H
#define NETMETER_SOCKET_EVENTS_H

#include <stddef.h>

/* One event: the tracepoint record's bytes 8..71 (skaddr, states, ports, family, protocol,
 * addresses; offsets as the tracepoint's format file says, minus 8), then the pid_tgid and
 * uid_gid of the task that changed the state, then its command name (16 bytes, NUL-padded). pid_tgid: tgid (the process id) in the high
 * 32 bits; uid_gid: uid in the low 32 bits. */
#define SOCKET_EVENT_RECORD_BYTES 64
#define SOCKET_EVENT_PID_AT 64
#define SOCKET_EVENT_UID_AT 72
#define SOCKET_EVENT_COMM_AT 80
#define SOCKET_EVENT_SIZE 96

typedef struct socket_events socket_events;

/* Loads and attaches the program to the tracepoint with this id, whose records hold
 * oldstate at old_at and newstate at new_at. On failure: NULL, errno set, *action says what
 * failed, and log (if given) holds the verifier's words when the load was refused. */
socket_events *socket_events_open(int tracepoint_id, int old_at, int new_at, char *log,
                                  size_t log_size, const char **action);

/* Copies the waiting events (whole ones, up to capacity bytes) and returns the bytes copied.
 * Never blocks. */
size_t socket_events_read(socket_events *events, unsigned char *out, size_t capacity);

void socket_events_close(socket_events *events);

#endif
