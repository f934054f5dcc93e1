// netmeter's kernel programs: who owns each socket, told as the socket gets its ends, so
// that /proc is read once at start rather than every second. Each program writes a
// struct socket_owner_event (socket_owner_event.h) into one ring buffer, with the task that
// made the call. Built by `npm run build:bpf` (native/bpf/build.sh) into socket_owners.bpf.o,
// which is shipped; the addon loads it with libbpf (native/src/socket_events.c), and libbpf
// fits the kernel field offsets to the running kernel from its BTF (CO-RE: kernel_types.h).
//
// Two sets, so that a kernel that refuses the first still gets the second:
// - socket hooks, on the root cgroup (cgroup sock and sock_addr programs: every process
//   below it, which is every process): a TCP or UDP port bound (post_bind, after the bind
//   succeeded, with the port the kernel chose), and a UDP socket's first send to an address
//   (sendmsg: after the autobind of a socket never bound), once per socket and port.
// - tracepoints (raw, BTF-typed): TCP connects (into and out of SYN_SENT) and listens (into
//   LISTEN, from listen() in the listening process), and process ends.
// Why not the BPF LSM or fexit: LSM hooks run before the call (a bind that then fails with
// EADDRINUSE would name the port's holder wrongly; a connect's or autobind's port is not
// chosen yet), the BPF LSM is off on many distributions' kernels, and both need BPF
// trampolines, which some kernels refuse (docs/design.md, attribution).
#include "kernel_types.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socket_owner_event.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  /* ~2,500 events, drained as they come: a storm of connects between two wake-ups. When it
   * is full, user space reads /proc again (events_lost). Resident twice its size (mapped twice). */
  __uint(max_entries, 1 << 18);
} events SEC(".maps");

/* Per UDP socket, the local port its sends were told with: one event per socket and port,
 * not one per datagram. Freed with the socket. */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, __u32);
} told SEC(".maps");

/* Set before load: only sockets of this network namespace (its cookie; 0: every one). */
const volatile __u64 netns_wanted = 0;

/* Events the ring had no room for: user space reads /proc again when this grows. */
__u64 events_lost = 0;

static __always_inline void emit(struct socket_owner_event *e, __u32 kind) {
  e->kind = kind;
  e->pid_tgid = bpf_get_current_pid_tgid();
  e->uid = (__u32)bpf_get_current_uid_gid();
  bpf_get_current_comm(e->comm, sizeof e->comm);
  if (bpf_ringbuf_output(&events, e, sizeof *e, 0) != 0) __sync_fetch_and_add(&events_lost, 1);
}

/* A cgroup hook's socket: its local end into e. family is a constant for each program: a
 * post_bind4 program may not read the IPv6 address, nor post_bind6 the IPv4 one. */
static __always_inline int local_end(struct socket_owner_event *e, struct bpf_sock *sk, __u64 netns, __u32 family) {
  if (netns_wanted != 0 && netns != netns_wanted) return 0;
  if (sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP) return 0;
  e->netns = netns;
  e->family = (__u16)family;
  e->protocol = (__u16)sk->protocol;
  e->local_port = (__u16)sk->src_port;
  if (family == AF_INET) {
    __u32 address = sk->src_ip4;
    __builtin_memcpy(e->local_address, &address, 4);
  } else {
    __u32 address[4] = {sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3]};
    __builtin_memcpy(e->local_address, address, 16);
  }
  return 1;
}

/* After a bind() that succeeded: the port is the one the kernel gave. Returns 1: allowed
 * (a cgroup hook that returns 0 makes the bind fail). */
static __always_inline int bound(struct bpf_sock *sk, __u32 family) {
  struct socket_owner_event e = {};
  if (local_end(&e, sk, bpf_get_netns_cookie(sk), family)) emit(&e, SOCKET_EVENT_BOUND);
  return 1;
}

SEC("cgroup/post_bind4")
int post_bind4(struct bpf_sock *sk) { return bound(sk, AF_INET); }

SEC("cgroup/post_bind6")
int post_bind6(struct bpf_sock *sk) { return bound(sk, AF_INET6); }

/* A send on an unconnected UDP socket (the hook does not run for connected ones): a socket
 * never bound has its port by now (inet_send_prepare's autobind runs first). Told once per
 * socket and port, by the process sending. Returns 1: the send goes on as asked. */
static __always_inline int sending(struct bpf_sock_addr *ctx) {
  struct bpf_sock *sk = ctx->sk;
  if (sk == 0) return 1;
  __u32 *port = bpf_sk_storage_get(&told, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (port == 0 || *port == sk->src_port) return 1;
  *port = sk->src_port;
  struct socket_owner_event e = {};
  /* The socket's own family: an IPv6 socket sending to an IPv4-mapped address runs sendmsg4. */
  __u32 family = sk->family;
  if (family != AF_INET && family != AF_INET6) return 1;
  if (local_end(&e, sk, bpf_get_netns_cookie(ctx), family)) emit(&e, SOCKET_EVENT_BOUND);
  return 1;
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx) { return sending(ctx); }

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx) { return sending(ctx); }

/* A kernel socket's ends into e (CO-RE reads); 0 when it is not one to tell of. */
static __always_inline int socket_ends(struct socket_owner_event *e, struct sock *sk) {
  e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
  if (netns_wanted != 0 && e->netns != netns_wanted) return 0;
  e->sock = (__u64)sk;
  e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  e->remote_port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (e->family == AF_INET) {
    __be32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __be32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(e->local_address, &local, 4);
    __builtin_memcpy(e->remote_address, &remote, 4);
  } else if (e->family == AF_INET6) {
    BPF_CORE_READ_INTO(&e->local_address, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&e->remote_address, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  } else {
    return 0;
  }
  return 1;
}

/* sock:inet_sock_set_state(sk, oldstate, newstate), TCP's state changes. connect() enters
 * SYN_SENT in the calling process, before the source port is chosen; leaving SYN_SENT, the
 * ends are whole: user space joins the two by the socket's address. listen() enters LISTEN
 * in the listening process, with the port bound. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state, struct sock *sk, int oldstate, int newstate) {
  if (oldstate != TCP_SYN_SENT && newstate != TCP_SYN_SENT && newstate != TCP_LISTEN) return 0;
  struct socket_owner_event e = {};
  if (!socket_ends(&e, sk)) return 0;
  e.protocol = IPPROTO_TCP;
  e.oldstate = oldstate;
  e.newstate = newstate;
  emit(&e, newstate == TCP_LISTEN ? SOCKET_EVENT_BOUND : SOCKET_EVENT_STATE);
  return 0;
}

/* sched:sched_process_exit(task): the process ended when its last thread does (the
 * signal struct's live count, which do_exit lowers before this tracepoint fires). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *task) {
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;
  struct socket_owner_event e = {};
  emit(&e, SOCKET_EVENT_PROCESS_EXIT);
  return 0;
}
