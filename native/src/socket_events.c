// Kernel socket events: loads netmeter's BPF object (native/bpf/socket_owners.bpf.c, built
// by clang and shipped as socket_owners.bpf.o) with libbpf, which fits its field offsets to
// this kernel (CO-RE, from /sys/kernel/btf/vmlinux), attaches its programs, and reads the
// one ring buffer they all write to.
#include "socket_events.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define MAX_PROGRAMS 8

struct socket_events {
  struct bpf_object *object;
  struct bpf_link *links[MAX_PROGRAMS];
  struct ring_buffer *ring;
  int cgroup_fd;
  const volatile unsigned long long *lost; /* the object's events_lost, mapped */
  /* Where the ring's callback copies to, for the read under way. */
  unsigned char *out;
  size_t capacity;
  size_t used;
};

/* libbpf speaks through one process-wide print function: while a load is under way its
 * words go to that load's log (the addon loads on the JavaScript thread alone). */
static char *print_log;
static size_t print_log_size;

static int collect_print(enum libbpf_print_level level, const char *format, va_list args) {
  if (level == LIBBPF_DEBUG || print_log == NULL || print_log_size == 0) return 0;
  size_t used = strlen(print_log);
  if (used + 1 >= print_log_size) return 0;
  return vsnprintf(print_log + used, print_log_size - used, format, args);
}

void socket_events_close(socket_events *e) {
  if (e == NULL) return;
  ring_buffer__free(e->ring);
  for (size_t i = 0; i < MAX_PROGRAMS; i++) bpf_link__destroy(e->links[i]); /* detaches */
  bpf_object__close(e->object);
  if (e->cgroup_fd >= 0) close(e->cgroup_fd);
  free(e);
}

static socket_events *fail(socket_events *e, int error, const char *what, const char **action) {
  socket_events_close(e);
  print_log = NULL;
  *action = what;
  errno = error < 0 ? -error : error;
  if (errno == 0) errno = EINVAL;
  return NULL;
}

static int on_event(void *context, void *data, size_t size) {
  socket_events *e = context;
  if (size != SOCKET_EVENT_SIZE) return 0; /* not ours: skip */
  memcpy(e->out + e->used, data, size);
  e->used += size;
  /* Stop while one more fits no longer: the rest waits in the ring for the next read. */
  return e->capacity - e->used < SOCKET_EVENT_SIZE ? -ENOSPC : 0;
}

/* This process's network namespace, as the kernel names it to BPF programs; 0 when the
 * kernel cannot say (before 5.14): then the programs tell of every namespace's sockets. */
static unsigned long long own_netns(void) {
  unsigned long long cookie = 0;
  socklen_t length = sizeof cookie;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length) != 0) cookie = 0;
  close(fd);
  return cookie;
}

socket_events *socket_events_open(const void *object, size_t size, const char *cgroup,
                                  char *log, size_t log_size, const char **action) {
  if (log != NULL && log_size > 0) log[0] = '\0';
  print_log = log;
  print_log_size = log_size;
  libbpf_set_print(collect_print);
  socket_events *e = calloc(1, sizeof *e);
  if (e == NULL) return fail(NULL, ENOMEM, "allocate the socket event reader", action);
  e->cgroup_fd = -1;
  if (cgroup != NULL) {
    e->cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (e->cgroup_fd < 0) return fail(e, errno, "open the root cgroup", action);
  }

  LIBBPF_OPTS(bpf_object_open_opts, options, .object_name = "netmeter_socket_owners");
  e->object = bpf_object__open_mem(object, size, &options);
  if (e->object == NULL) return fail(e, errno, "read the BPF object", action);

  struct bpf_program *program;
  bpf_object__for_each_program(program, e->object) {
    /* Without a cgroup, the socket hooks stay out, and with them what they need of the kernel. */
    if (cgroup == NULL && strncmp(bpf_program__section_name(program), "cgroup/", 7) == 0) bpf_program__set_autoload(program, false);
  }
  struct bpf_map *rodata = bpf_object__find_map_by_name(e->object, ".rodata");
  size_t rodata_size = 0;
  unsigned long long *netns_wanted = rodata == NULL ? NULL : (unsigned long long *)bpf_map__initial_value(rodata, &rodata_size);
  if (netns_wanted == NULL || rodata_size < sizeof *netns_wanted) return fail(e, EINVAL, "find the BPF object's settings", action);
  *netns_wanted = own_netns(); /* .rodata holds netns_wanted alone */

  int error = bpf_object__load(e->object);
  if (error != 0) return fail(e, error, "load the BPF programs", action);

  size_t linked = 0;
  bpf_object__for_each_program(program, e->object) {
    if (!bpf_program__autoload(program)) continue;
    if (linked == MAX_PROGRAMS) return fail(e, E2BIG, "attach the BPF programs", action);
    int hook = strncmp(bpf_program__section_name(program), "cgroup/", 7) == 0;
    e->links[linked] = hook ? bpf_program__attach_cgroup(program, e->cgroup_fd) : bpf_program__attach(program);
    if (e->links[linked] == NULL) return fail(e, errno, "attach the BPF programs", action);
    linked++;
  }

  struct bpf_map *bss = bpf_object__find_map_by_name(e->object, ".bss");
  size_t bss_size = 0;
  e->lost = bss == NULL ? NULL : bpf_map__initial_value(bss, &bss_size);
  if (e->lost == NULL || bss_size < sizeof *e->lost) return fail(e, EINVAL, "find the BPF object's counters", action);

  struct bpf_map *events = bpf_object__find_map_by_name(e->object, "events");
  if (events == NULL) return fail(e, ENOENT, "find the BPF ring buffer", action);
  e->ring = ring_buffer__new(bpf_map__fd(events), on_event, e, NULL);
  if (e->ring == NULL) return fail(e, errno, "map the BPF ring buffer", action);
  print_log = NULL;
  return e;
}

int socket_events_fd(const socket_events *e) { return ring_buffer__epoll_fd(e->ring); }

unsigned long long socket_events_lost(const socket_events *e) { return *e->lost; }

size_t socket_events_read(socket_events *e, unsigned char *out, size_t capacity) {
  if (capacity < SOCKET_EVENT_SIZE) return 0;
  e->out = out;
  e->capacity = capacity;
  e->used = 0;
  ring_buffer__consume(e->ring);
  return e->used;
}
