// tcpListeners(): the TCP sockets in LISTEN of this thread's network namespace, as
// [family, address (4 or 16 bytes), port, inode, uid] arrays, from NETLINK_SOCK_DIAG (what
// `ss -lt` uses). Asked for LISTEN alone, the kernel walks only its listening hash: reading
// /proc/net/tcp and tcp6 instead makes it scan the whole established hash, twice per file
// (~10 ms here with two sockets in it). Throws with the errno's name as code.
#include <node_api.h>

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi_util.h"
#include "tcp_listeners.h"

#define TCP_LISTEN_STATE 10
#define LISTING "list TCP listeners through sock_diag"

/* Appends one [family, address, port, inode, uid] to out at *count. */
static int push(napi_env env, napi_value out, uint32_t *count, const struct inet_diag_msg *m) {
  size_t bytes = m->idiag_family == AF_INET ? 4 : 16;
  napi_value row, value;
  void *data;
  if (napi_create_array_with_length(env, 5, &row) != napi_ok) return -1;
  if (napi_create_uint32(env, m->idiag_family, &value) != napi_ok || napi_set_element(env, row, 0, value) != napi_ok) return -1;
  if (napi_create_buffer_copy(env, bytes, m->id.idiag_src, &data, &value) != napi_ok || napi_set_element(env, row, 1, value) != napi_ok) return -1;
  if (napi_create_uint32(env, ntohs(m->id.idiag_sport), &value) != napi_ok || napi_set_element(env, row, 2, value) != napi_ok) return -1;
  if (napi_create_double(env, m->idiag_inode, &value) != napi_ok || napi_set_element(env, row, 3, value) != napi_ok) return -1;
  if (napi_create_uint32(env, m->idiag_uid, &value) != napi_ok || napi_set_element(env, row, 4, value) != napi_ok) return -1;
  return napi_set_element(env, out, (*count)++, row) == napi_ok ? 0 : -1;
}

/* One dump for one family; 0, a negative errno, or 1 when a N-API call failed. */
static int dump(napi_env env, int fd, int family, napi_value out, uint32_t *count) {
  struct {
    struct nlmsghdr header;
    struct inet_diag_req_v2 request;
  } message;
  memset(&message, 0, sizeof message);
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = (unsigned)family;
  message.request.sdiag_family = (unsigned char)family;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1u << TCP_LISTEN_STATE;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
  static __thread long buffer[8192]; /* 64 KiB, aligned for nlmsghdr */
  for (;;) {
    ssize_t length = recv(fd, buffer, sizeof buffer, 0);
    if (length < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (length == 0) return 0;
    int left = (int)length;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *error = NLMSG_DATA(h);
        return error->error;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
      const struct inet_diag_msg *m = NLMSG_DATA(h);
      if (m->idiag_state != TCP_LISTEN_STATE) continue;
      if (push(env, out, count, m) != 0) return 1;
    }
  }
}

static napi_value tcp_listeners(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_array(env, &out));
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    throw_errno(env, LISTING, errno);
    return NULL;
  }
  uint32_t count = 0;
  int result = dump(env, fd, AF_INET, out, &count);
  if (result == 0) result = dump(env, fd, AF_INET6, out, &count);
  close(fd);
  if (result == 1) return NULL; /* an N-API exception is pending */
  /* A kernel without IPv6 has no AF_INET6 handler: that family simply has no listeners. */
  if (result < 0 && result != -ENOENT) {
    throw_errno(env, LISTING, -result);
    return NULL;
  }
  return out;
}

napi_value tcp_listeners_register(napi_env env, napi_value exports) {
  napi_value function;
  CHECK(napi_create_function(env, "tcpListeners", NAPI_AUTO_LENGTH, tcp_listeners, NULL, &function));
  CHECK(napi_set_named_property(env, exports, "tcpListeners", function));
  return exports;
}
