// The socket-owner walk over a /proc tree, free of N-API so it can run on a worker thread.
#ifndef NETMETER_SOCKET_OWNERS_H
#define NETMETER_SOCKET_OWNERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t inode;
  int32_t pid;
} socket_owner;

typedef struct {
  socket_owner *owners; /* sorted by (inode, pid), no duplicates */
  size_t count;
  size_t capacity;
  int error;            /* errno that failed the whole walk; 0 on success */
  const char *action;   /* what failed with error: "open" or "read" */
} socket_owner_list;

/* Fills list with every (socket inode, pid) pair under proc_root/PID/fd. Only a failure to
 * open or list proc_root itself (or running out of memory) sets list->error. */
void socket_owners_walk(const char *proc_root, socket_owner_list *list);

void socket_owners_free(socket_owner_list *list);

#endif
