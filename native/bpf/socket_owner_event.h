// One event of the kernel programs in socket_owners.bpf.c, as the ring buffer carries it to
// user space. This header is the contract between the BPF C, the addon
// (native/src/socket_events_napi.c exports the offsets as socketEventLayout) and
// src/attribute/kernel-owners.ts, which reads events by those offsets.
#ifndef NETMETER_SOCKET_OWNER_EVENT_H
#define NETMETER_SOCKET_OWNER_EVENT_H

/* What an event says. */
#define SOCKET_EVENT_STATE 1        /* a TCP socket entered or left SYN_SENT (connect) */
#define SOCKET_EVENT_PROCESS_EXIT 2 /* the last thread of a process ended */
#define SOCKET_EVENT_BOUND 4        /* a TCP or UDP socket has its local end: bind(), listen(), a UDP socket's send */

/* All little-endian as the host; ports in host order; an IPv4 address in the first 4 bytes
 * of its 16. The task fields are the task that ran the call (bind(), listen(), connect(), send),
 * which is not always the process that holds the socket later (fork, fd passing). */
struct socket_owner_event {
  unsigned long long sock;     /* the socket's kernel address: joins a connect's two events */
  unsigned long long pid_tgid; /* thread id in the low 32 bits, process id (tgid) in the high */
  unsigned long long netns;    /* the socket's network namespace (its cookie, SO_NETNS_COOKIE); 0 for exits */
  unsigned int uid;
  unsigned int kind;           /* SOCKET_EVENT_* */
  int oldstate;                /* SOCKET_EVENT_STATE: the TCP states */
  int newstate;
  unsigned short family;       /* AF_INET, AF_INET6 */
  unsigned short protocol;     /* IPPROTO_TCP, IPPROTO_UDP */
  unsigned short local_port;
  unsigned short remote_port;
  unsigned char local_address[16];
  unsigned char remote_address[16];
  char comm[16];
};

#define SOCKET_EVENT_SIZE 96

#endif
