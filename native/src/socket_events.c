// Kernel socket events: tiny eBPF programs on tracepoints copy each record that matters for
// socket ownership into one BPF ring buffer, with the pid, uid and command of the task that
// caused it. On sock:inet_sock_set_state, the TCP state changes into and out of SYN_SENT: a
// connect() enters SYN_SENT in the calling process, so that event names the connection's
// owner even when the connection is gone before /proc can be read again. On
// sched:sched_process_exit, the end of a process: its sockets may pass to another.
//
// No libbpf: each program is a few dozen instructions, loaded with the bpf() system call and
// attached through perf_event_open; the ring buffer is read in place through mmap.
#include "socket_events.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TCP_SYN_SENT 2
#define RING_BYTES (1u << 20) /* ~10,000 events: seconds of connects between two reads */

/* The tracepoint record's bytes [COPY_FROM, COPY_TO) go to user space verbatim; the first 8
 * bytes (the common fields) are not readable from a tracepoint program. */
#define COPY_FROM 8
#define STACK_EVENT (-(int)SOCKET_EVENT_SIZE)

struct socket_events {
  int map_fd;
  int prog_fd[SOCKET_EVENTS_MAX_TRACEPOINTS];
  int perf_fd[SOCKET_EVENTS_MAX_TRACEPOINTS];
  size_t page_size;
  unsigned long *consumer_pos; /* the page we write our position to */
  void *producer;              /* producer page, then the data area mapped twice */
};

/* The instruction encodings of linux/filter.h, which is not a uapi header. */
#define INSN(code, dst, src, off, imm) ((struct bpf_insn){code, dst, src, off, imm})
#define MOV64_REG(dst, src) INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define ADD64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm)
#define LDX(size, dst, src, off) INSN(BPF_LDX | BPF_MEM | (size), dst, src, off, 0)
#define STX(size, dst, src, off) INSN(BPF_STX | BPF_MEM | (size), dst, src, off, 0)
#define ST_IMM(size, dst, off, imm) INSN(BPF_ST | BPF_MEM | (size), dst, 0, off, imm)
#define JEQ_IMM(dst, imm, off) INSN(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
#define JA(off) INSN(BPF_JMP | BPF_JA, 0, 0, off, 0)
#define CALL(helper) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* A 64-bit immediate takes two slots; the pseudo source asks the kernel to put the map there. */
#define LD_MAP_FD(dst, fd) INSN(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd)

static long bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

/* The program for one tracepoint:
 *   if (!filter(record)) return 0;
 *   event = record[8..8+copy) ++ zeros to 64 ++ pid_tgid ++ uid_gid ++ comm ++ kind
 *   bpf_ringbuf_output(ring, event)
 * The event is built on the stack (r10 is the frame pointer). */
static size_t build_program(struct bpf_insn *p, int map_fd, const socket_events_tracepoint *tp) {
  size_t n = 0, skip = 0;
  p[n++] = MOV64_REG(BPF_REG_6, BPF_REG_1);
  if (tp->filter == SOCKET_EVENTS_FILTER_SYN_SENT) {
    /* A state change into or out of SYN_SENT: at = oldstate, at2 = newstate. */
    p[n++] = LDX(BPF_W, BPF_REG_2, BPF_REG_6, tp->at);
    p[n++] = LDX(BPF_W, BPF_REG_3, BPF_REG_6, tp->at2);
    p[n++] = JEQ_IMM(BPF_REG_3, TCP_SYN_SENT, 2);
    p[n++] = JEQ_IMM(BPF_REG_2, TCP_SYN_SENT, 1);
    skip = n++; /* JA to the exit, patched below */
  } else if (tp->filter == SOCKET_EVENTS_FILTER_NONZERO_BYTE) {
    /* A flag byte set, such as sched_process_exit's group_dead (the last thread of a process). */
    p[n++] = LDX(BPF_B, BPF_REG_2, BPF_REG_6, tp->at);
    p[n++] = JEQ_IMM(BPF_REG_2, 0, 0);
    skip = n - 1; /* the JEQ itself jumps to the exit */
  }
  /* Only the record's own bytes: the kernel refuses to attach a program that reads past them. */
  for (int at = 0; at < SOCKET_EVENT_RECORD_BYTES; at += 8) {
    if (at + 8 <= tp->copy) {
      p[n++] = LDX(BPF_DW, BPF_REG_1, BPF_REG_6, COPY_FROM + at);
      p[n++] = STX(BPF_DW, BPF_REG_10, BPF_REG_1, STACK_EVENT + at);
    } else {
      p[n++] = ST_IMM(BPF_DW, BPF_REG_10, STACK_EVENT + at, 0);
    }
  }
  p[n++] = CALL(BPF_FUNC_get_current_pid_tgid);
  p[n++] = STX(BPF_DW, BPF_REG_10, BPF_REG_0, STACK_EVENT + SOCKET_EVENT_PID_AT);
  p[n++] = CALL(BPF_FUNC_get_current_uid_gid);
  p[n++] = STX(BPF_DW, BPF_REG_10, BPF_REG_0, STACK_EVENT + SOCKET_EVENT_UID_AT);
  p[n++] = MOV64_REG(BPF_REG_1, BPF_REG_10);
  p[n++] = ADD64_IMM(BPF_REG_1, STACK_EVENT + SOCKET_EVENT_COMM_AT);
  p[n++] = MOV64_IMM(BPF_REG_2, 16);
  p[n++] = CALL(BPF_FUNC_get_current_comm);
  p[n++] = MOV64_IMM(BPF_REG_1, tp->kind);
  p[n++] = STX(BPF_DW, BPF_REG_10, BPF_REG_1, STACK_EVENT + SOCKET_EVENT_KIND_AT);
  p[n++] = LD_MAP_FD(BPF_REG_1, map_fd);
  p[n++] = INSN(0, 0, 0, 0, 0);
  p[n++] = MOV64_REG(BPF_REG_2, BPF_REG_10);
  p[n++] = ADD64_IMM(BPF_REG_2, STACK_EVENT);
  p[n++] = MOV64_IMM(BPF_REG_3, SOCKET_EVENT_SIZE);
  p[n++] = MOV64_IMM(BPF_REG_4, 0);
  p[n++] = CALL(BPF_FUNC_ringbuf_output);
  if (tp->filter != SOCKET_EVENTS_FILTER_NONE) {
    if (tp->filter == SOCKET_EVENTS_FILTER_SYN_SENT) p[skip] = JA((short)(n - skip - 1));
    else p[skip].off = (short)(n - skip - 1);
  }
  p[n++] = MOV64_IMM(BPF_REG_0, 0);
  p[n++] = EXIT();
  return n;
}

void socket_events_close(socket_events *e) {
  if (e == NULL) return;
  for (size_t i = 0; i < SOCKET_EVENTS_MAX_TRACEPOINTS; i++) {
    if (e->perf_fd[i] >= 0) close(e->perf_fd[i]); /* detaches the program */
    if (e->prog_fd[i] >= 0) close(e->prog_fd[i]);
  }
  if (e->producer != NULL) munmap(e->producer, e->page_size + 2 * (size_t)RING_BYTES);
  if (e->consumer_pos != NULL) munmap(e->consumer_pos, e->page_size);
  if (e->map_fd >= 0) close(e->map_fd);
  free(e);
}

static socket_events *fail(socket_events *e, const char *what, const char **action) {
  int error = errno;
  socket_events_close(e);
  *action = what;
  errno = error;
  return NULL;
}

/* Loads tp's program and attaches it; 0, or -1 with errno and *action set. */
static int attach(socket_events *e, size_t i, const socket_events_tracepoint *tp, char *log,
                  size_t log_size, const char **action) {
  struct bpf_insn program[80];
  size_t count = build_program(program, e->map_fd, tp);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_TRACEPOINT;
  attr.insns = (unsigned long)program;
  attr.insn_cnt = (unsigned)count;
  attr.license = (unsigned long)"Dual MIT/GPL";
  if (log != NULL && log_size > 0) {
    log[0] = '\0';
    attr.log_buf = (unsigned long)log;
    attr.log_size = (unsigned)log_size;
    attr.log_level = 1;
  }
  /* The verifier gives up with EAGAIN when a signal arrives meanwhile (a profiler's, a
   * timer's): try again, as libbpf does. */
  for (int attempt = 0; attempt < 5; attempt++) {
    e->prog_fd[i] = (int)bpf(BPF_PROG_LOAD, &attr);
    if (e->prog_fd[i] >= 0 || errno != EAGAIN) break;
  }
  if (e->prog_fd[i] < 0 && log != NULL && errno == ENOSPC) {
    /* The log did not fit; load without one rather than fail on it. */
    attr.log_buf = 0;
    attr.log_size = 0;
    attr.log_level = 0;
    e->prog_fd[i] = (int)bpf(BPF_PROG_LOAD, &attr);
  }
  if (e->prog_fd[i] < 0) return *action = "load the BPF program", -1;

  struct perf_event_attr pattr;
  memset(&pattr, 0, sizeof pattr);
  pattr.type = PERF_TYPE_TRACEPOINT;
  pattr.size = sizeof pattr;
  pattr.config = (unsigned long long)tp->id;
  pattr.sample_period = 1;
  pattr.wakeup_events = 1;
  /* Any CPU: a program attached to a tracepoint runs wherever the tracepoint fires. */
  e->perf_fd[i] = (int)syscall(__NR_perf_event_open, &pattr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (e->perf_fd[i] < 0) return *action = "open a tracepoint", -1;
  if (ioctl(e->perf_fd[i], PERF_EVENT_IOC_SET_BPF, e->prog_fd[i]) < 0) return *action = "attach the BPF program", -1;
  if (ioctl(e->perf_fd[i], PERF_EVENT_IOC_ENABLE, 0) < 0) return *action = "enable a tracepoint", -1;
  return 0;
}

socket_events *socket_events_open(const socket_events_tracepoint *tracepoints, size_t count,
                                  char *log, size_t log_size, const char **action) {
  if (count == 0 || count > SOCKET_EVENTS_MAX_TRACEPOINTS) {
    errno = EINVAL;
    return fail(NULL, "attach to that many tracepoints", action);
  }
  socket_events *e = calloc(1, sizeof *e);
  if (e == NULL) return fail(NULL, "allocate the socket event reader", action);
  e->map_fd = -1;
  for (size_t i = 0; i < SOCKET_EVENTS_MAX_TRACEPOINTS; i++) e->prog_fd[i] = e->perf_fd[i] = -1;
  e->page_size = (size_t)sysconf(_SC_PAGESIZE);

  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_RINGBUF;
  attr.max_entries = RING_BYTES;
  e->map_fd = (int)bpf(BPF_MAP_CREATE, &attr);
  if (e->map_fd < 0) return fail(e, "create a BPF ring buffer", action);

  /* The ring: our consumer position (writable), then the producer's position and the data,
   * whose pages the kernel maps twice in a row so a record that wraps reads contiguously. */
  void *consumer = mmap(NULL, e->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, e->map_fd, 0);
  if (consumer == MAP_FAILED) return fail(e, "map the BPF ring buffer", action);
  e->consumer_pos = consumer;
  void *producer = mmap(NULL, e->page_size + 2 * (size_t)RING_BYTES, PROT_READ, MAP_SHARED,
                        e->map_fd, (off_t)e->page_size);
  if (producer == MAP_FAILED) return fail(e, "map the BPF ring buffer", action);
  e->producer = producer;

  for (size_t i = 0; i < count; i++) {
    const char *what = NULL;
    if (attach(e, i, &tracepoints[i], log, log_size, &what) != 0) return fail(e, what, action);
  }
  return e;
}

int socket_events_fd(const socket_events *e) { return e->map_fd; }

size_t socket_events_read(socket_events *e, unsigned char *out, size_t capacity) {
  const unsigned long *producer_pos = e->producer;
  const unsigned char *data = (const unsigned char *)e->producer + e->page_size;
  unsigned long consumer = *e->consumer_pos;
  unsigned long producer = __atomic_load_n(producer_pos, __ATOMIC_ACQUIRE);
  size_t used = 0;
  while (consumer < producer) {
    const unsigned char *header = data + (consumer & (RING_BYTES - 1));
    unsigned int length = __atomic_load_n((const unsigned int *)header, __ATOMIC_ACQUIRE);
    if (length & BPF_RINGBUF_BUSY_BIT) break; /* still being written */
    unsigned int body = length & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    if (!(length & BPF_RINGBUF_DISCARD_BIT) && body == SOCKET_EVENT_SIZE) {
      if (used + body > capacity) break; /* the rest waits for the next read */
      memcpy(out + used, header + BPF_RINGBUF_HDR_SZ, body);
      used += body;
    }
    consumer += (BPF_RINGBUF_HDR_SZ + body + 7) & ~7ul;
    __atomic_store_n(e->consumer_pos, consumer, __ATOMIC_RELEASE);
  }
  return used;
}
