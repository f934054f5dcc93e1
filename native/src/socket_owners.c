// The socket-owner walk: which pids hold which socket inodes, read from PROC/PID/fd links.
#include "socket_owners.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* JavaScript receives inodes as doubles; anything above 2^53 could not round-trip. */
#define MAX_SAFE_INODE ((uint64_t)9007199254740991ULL)
/* pid_max is at most 2^22 on Linux, so nine digits is plenty and keeps "PID/fd" short. */
#define MAX_PID_DIGITS 9

static int push_owner(socket_owner_list *list, uint64_t inode, int32_t pid) {
  if (list->count == list->capacity) {
    size_t capacity = list->capacity ? list->capacity * 2 : 1024;
    socket_owner *grown = realloc(list->owners, capacity * sizeof *grown);
    if (grown == NULL) return 0;
    list->owners = grown;
    list->capacity = capacity;
  }
  list->owners[list->count].inode = inode;
  list->owners[list->count].pid = pid;
  list->count++;
  return 1;
}

/* Accepts exactly "socket:[DIGITS]", the form the kernel gives a socket's fd link. */
static int parse_socket_link(const char *target, size_t length, uint64_t *inode) {
  static const char prefix[] = "socket:[";
  const size_t prefix_length = sizeof prefix - 1;
  if (length < prefix_length + 2 || memcmp(target, prefix, prefix_length) != 0 ||
      target[length - 1] != ']')
    return 0;
  uint64_t value = 0;
  for (size_t i = prefix_length; i < length - 1; i++) {
    if (target[i] < '0' || target[i] > '9') return 0;
    value = value * 10 + (uint64_t)(target[i] - '0');
    if (value > MAX_SAFE_INODE) return 0;
  }
  *inode = value;
  return 1;
}

/* Returns the pid a /proc entry name stands for, or -1 when it is not a pid directory. */
static int32_t parse_pid_name(const char *name) {
  size_t length = strlen(name);
  if (length == 0 || length > MAX_PID_DIGITS) return -1;
  int32_t pid = 0;
  for (size_t i = 0; i < length; i++) {
    if (name[i] < '0' || name[i] > '9') return -1;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

/* Any failure inside one pid (it exited, it is not ours to read, it has no fd dir) only
 * skips that pid: a walk of a live /proc always races with processes coming and going. */
static int walk_pid(int root_fd, const char *name, int32_t pid, socket_owner_list *list) {
  char path[MAX_PID_DIGITS + sizeof "/fd"];
  size_t name_length = strlen(name);
  memcpy(path, name, name_length);
  memcpy(path + name_length, "/fd", sizeof "/fd");

  int fd_dir = openat(root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_dir < 0) return 1;
  DIR *dir = fdopendir(fd_dir);
  if (dir == NULL) {
    close(fd_dir);
    return 1;
  }
  int ok = 1;
  struct dirent *entry;
  /* Long enough for any socket link; a target that fills it is something else. */
  char target[64];
  while ((entry = readdir(dir)) != NULL) {
    /* /proc and snapshot copies report links as DT_LNK; DT_UNKNOWN means "ask", so ask. */
    if (entry->d_type != DT_LNK && entry->d_type != DT_UNKNOWN) continue;
    ssize_t length = readlinkat(fd_dir, entry->d_name, target, sizeof target);
    uint64_t inode;
    if (length <= 0 || (size_t)length >= sizeof target) continue;
    if (!parse_socket_link(target, (size_t)length, &inode)) continue;
    if (!push_owner(list, inode, pid)) {
      ok = 0;
      break;
    }
  }
  closedir(dir);
  return ok;
}

static int compare_owners(const void *a, const void *b) {
  const socket_owner *x = a, *y = b;
  if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
  return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Sorting here, on the worker thread, leaves the main thread a single linear pass:
 * pids come out ascending per inode, and a socket held twice by one pid (dup) once. */
static void sort_unique(socket_owner_list *list) {
  if (list->count == 0) return;
  qsort(list->owners, list->count, sizeof *list->owners, compare_owners);
  size_t kept = 1;
  for (size_t i = 1; i < list->count; i++) {
    socket_owner *last = &list->owners[kept - 1];
    if (list->owners[i].inode != last->inode || list->owners[i].pid != last->pid)
      list->owners[kept++] = list->owners[i];
  }
  list->count = kept;
}

void socket_owners_walk(const char *proc_root, socket_owner_list *list) {
  memset(list, 0, sizeof *list);
  int root_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    list->error = errno;
    list->action = "open";
    return;
  }
  DIR *root = fdopendir(root_fd);
  if (root == NULL) {
    list->error = errno;
    list->action = "open";
    close(root_fd);
    return;
  }
  struct dirent *entry;
  for (;;) {
    errno = 0;
    entry = readdir(root);
    if (entry == NULL) {
      if (errno != 0) {
        list->error = errno;
        list->action = "read";
      }
      break;
    }
    int32_t pid = parse_pid_name(entry->d_name);
    if (pid < 0) continue;
    /* openat on the stream's own fd is safe: it does not move the directory offset. */
    if (!walk_pid(dirfd(root), entry->d_name, pid, list)) {
      list->error = ENOMEM;
      list->action = "read";
      break;
    }
  }
  closedir(root);
  if (list->error != 0) {
    socket_owners_free(list);
    return;
  }
  sort_unique(list);
}

void socket_owners_free(socket_owner_list *list) {
  free(list->owners);
  list->owners = NULL;
  list->count = list->capacity = 0;
}
