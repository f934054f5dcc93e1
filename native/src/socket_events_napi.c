// The SocketEvents class JavaScript sees: new SocketEvents(object, cgroup) loads netmeter's
// BPF object (the bytes of native/bpf/socket_owners.bpf.o) with libbpf and attaches its
// programs, the socket hooks on cgroup (the root cgroup v2 directory) unless null (throws with the errno's
// name as code when the kernel refuses, libbpf's words in verifierLog); read() returns the
// waiting events as one Buffer (or null), watch(onReady) calls onReady once when events
// wait (on the event loop, through libuv: no timer, no thread), lost() counts the events the
// full ring dropped, close() detaches. Also socketEventLayout, where each event holds what,
// and mountCgroup2/unmountCgroup2 for a mount namespace without a cgroup v2 mount.
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mount.h>

#include "napi_util.h"
#include "socket_events.h"
#include "socket_events_napi.h"

_Static_assert(sizeof(struct socket_owner_event) == SOCKET_EVENT_SIZE, "socket_owner_event.h: SOCKET_EVENT_SIZE");

#define READ_CAPACITY (SOCKET_EVENT_SIZE * 4096)
#define VERIFIER_LOG_BYTES 16384

/* The watch on the ring's fd. It lives apart from the binding because libuv frees a handle
 * only after uv_close's callback: a closed binding hands it over and forgets it. */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref on_ready;
  napi_async_context context;
  int polling;
} watcher;

typedef struct {
  socket_events *events;
  unsigned char *buffer;
  watcher *watch;
} binding;


static void on_watch_closed(uv_handle_t *handle) { free(handle->data); }

/* Stops watching and lets libuv free the watcher; before the ring's fd closes. */
static void stop_watch(binding *b) {
  watcher *w = b->watch;
  if (w == NULL) return;
  b->watch = NULL;
  if (w->on_ready != NULL) napi_delete_reference(w->env, w->on_ready);
  if (w->context != NULL) napi_async_destroy(w->env, w->context);
  uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static void release_binding(binding *b) {
  if (b == NULL) return;
  stop_watch(b);
  socket_events_close(b->events);
  free(b->buffer);
  free(b);
}

static void on_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release_binding(data);
}

static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  /* (object: Buffer, cgroup: string | null) */
  bool is_buffer = false;
  void *object = NULL;
  size_t object_size = 0;
  char cgroup[512];
  size_t cgroup_length = 0;
  napi_valuetype cgroup_type = napi_undefined;
  if (argc >= 1) napi_is_buffer(env, argv[0], &is_buffer);
  if (argc >= 2) napi_typeof(env, argv[1], &cgroup_type);
  if (!is_buffer || napi_get_buffer_info(env, argv[0], &object, &object_size) != napi_ok ||
      (cgroup_type != napi_null &&
       (cgroup_type != napi_string ||
        napi_get_value_string_utf8(env, argv[1], cgroup, sizeof cgroup, &cgroup_length) != napi_ok ||
        cgroup_length + 1 >= sizeof cgroup))) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "SocketEvents(object, cgroup): the BPF object's bytes, and the root cgroup v2 directory for the socket hooks or null for the tracepoints alone");
    return NULL;
  }
  binding *b = calloc(1, sizeof *b);
  char *log = malloc(VERIFIER_LOG_BYTES);
  if (b == NULL || log == NULL || (b->buffer = malloc(READ_CAPACITY)) == NULL) {
    free(log);
    release_binding(b);
    napi_throw_error(env, "ENOMEM", "cannot allocate the socket event reader");
    return NULL;
  }
  const char *action = NULL;
  b->events = socket_events_open(object, object_size, cgroup_type == napi_string ? cgroup : NULL, log, VERIFIER_LOG_BYTES, &action);
  if (b->events == NULL) {
    int error = errno;
    release_binding(b);
    throw_errno(env, action, error);
    /* libbpf's and the verifier's reasons, for --debug: attach them to the pending error. */
    napi_value exception, text;
    if (log[0] != '\0' && napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
      if (napi_create_string_utf8(env, log, NAPI_AUTO_LENGTH, &text) == napi_ok)
        napi_set_named_property(env, exception, "verifierLog", text);
      napi_throw(env, exception);
    }
    free(log);
    return NULL;
  }
  free(log);
  if (napi_wrap(env, self, b, on_finalized, NULL, NULL) != napi_ok) {
    release_binding(b);
    napi_throw_error(env, NULL, "cannot wrap the socket event reader");
    return NULL;
  }
  return self;
}

static binding *unwrap(napi_env env, napi_callback_info info) {
  return unwrap_this(env, info, "SocketEvents");
}

/* read(): a Buffer of whole events (SOCKET_EVENT_SIZE bytes each), or null when none wait
 * or after close(). */
static napi_value read_events(napi_env env, napi_callback_info info) {
  binding *b = unwrap(env, info);
  if (b == NULL) return NULL;
  napi_value result;
  size_t used = b->events == NULL ? 0 : socket_events_read(b->events, b->buffer, READ_CAPACITY);
  if (used == 0) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  CHECK(napi_create_buffer_copy(env, used, b->buffer, NULL, &result));
  return result;
}

/* The ring became readable: stop (watch is one-shot) and tell JavaScript. */
static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)status;
  (void)events;
  watcher *w = poll->data;
  uv_poll_stop(poll);
  w->polling = 0;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, result;
  /* napi_make_callback wants an object to call on. */
  if (napi_get_reference_value(env, w->on_ready, &callback) == napi_ok && callback != NULL &&
      napi_get_global(env, &receiver) == napi_ok) {
    /* As a libuv callback: microtasks run after it, and an exception reaches
     * process.on('uncaughtException') as from any other callback. */
    napi_make_callback(env, w->context, receiver, callback, 0, NULL, &result);
  }
  napi_close_handle_scope(env, scope);
}

/* watch(onReady): calls onReady once, on the event loop, when the ring holds events (at
 * once if it holds some now). Calling it again replaces onReady and watches once more. The
 * watch does not keep the process alive. */
static napi_value watch_events(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, undefined;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_get_undefined(env, &undefined));
  binding *b = NULL;
  if (napi_unwrap(env, self, (void **)&b) != napi_ok || b == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "watch() needs a SocketEvents");
    return NULL;
  }
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "watch(onReady): onReady must be a function");
    return NULL;
  }
  if (b->events == NULL) return undefined; /* closed: nothing will come */
  watcher *w = b->watch;
  if (w == NULL) {
    uv_loop_t *loop = NULL;
    CHECK(napi_get_uv_event_loop(env, &loop));
    w = calloc(1, sizeof *w);
    if (w == NULL) {
      napi_throw_error(env, "ENOMEM", "cannot allocate the socket event watch");
      return NULL;
    }
    w->env = env;
    napi_value name;
    if (napi_create_string_utf8(env, "netmeter:SocketEvents", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, NULL, name, &w->context) != napi_ok) {
      free(w);
      napi_throw_error(env, NULL, "cannot set up the socket event watch");
      return NULL;
    }
    int error = uv_poll_init(loop, &w->poll, socket_events_fd(b->events));
    if (error != 0) {
      napi_async_destroy(env, w->context);
      free(w);
      char text[160];
      snprintf(text, sizeof text, "cannot watch the BPF ring buffer: %s", uv_strerror(error));
      napi_throw_error(env, uv_err_name(error), text);
      return NULL;
    }
    w->poll.data = w;
    uv_unref((uv_handle_t *)&w->poll);
    b->watch = w;
  }
  if (w->on_ready != NULL) napi_delete_reference(env, w->on_ready);
  w->on_ready = NULL;
  CHECK(napi_create_reference(env, argv[0], 1, &w->on_ready));
  if (!w->polling) {
    int error = uv_poll_start(&w->poll, UV_READABLE, on_readable);
    if (error != 0) {
      char text[160];
      snprintf(text, sizeof text, "cannot watch the BPF ring buffer: %s", uv_strerror(error));
      napi_throw_error(env, uv_err_name(error), text);
      return NULL;
    }
    w->polling = 1;
  }
  return undefined;
}

/* lost(): events the kernel dropped because the ring was full, since loading (0 after close()). */
static napi_value lost_events(napi_env env, napi_callback_info info) {
  binding *b = unwrap(env, info);
  if (b == NULL) return NULL;
  napi_value result;
  CHECK(napi_create_double(env, b->events == NULL ? 0 : (double)socket_events_lost(b->events), &result));
  return result;
}

static napi_value close_events(napi_env env, napi_callback_info info) {
  binding *b = unwrap(env, info);
  if (b == NULL) return NULL;
  stop_watch(b);
  socket_events_close(b->events);
  b->events = NULL;
  napi_value undefined;
  CHECK(napi_get_undefined(env, &undefined));
  return undefined;
}

/* mountCgroup2(dir) mounts the cgroup v2 hierarchy there, unmountCgroup2(dir) takes it
 * away (root only): for a mount namespace that shows none (`ip netns exec`), just long
 * enough to attach the socket hooks to its root. */
static napi_value cgroup2_mount(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], undefined;
  bool *mounting = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&mounting));
  char dir[256];
  size_t length = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], dir, sizeof dir, &length) != napi_ok || length + 1 >= sizeof dir) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "dir must be a string");
    return NULL;
  }
  int failed = *mounting ? mount("cgroup2", dir, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) : umount2(dir, MNT_DETACH);
  if (failed != 0) {
    throw_errno(env, *mounting ? "mount the cgroup v2 hierarchy" : "unmount the cgroup v2 hierarchy", errno);
    return NULL;
  }
  CHECK(napi_get_undefined(env, &undefined));
  return undefined;
}

static bool MOUNTING = true, UNMOUNTING = false;

napi_value socket_events_register(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"read", NULL, read_events, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, watch_events, NULL, NULL, NULL, napi_default, NULL},
      {"lost", NULL, lost_events, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_events, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value klass;
  CHECK(napi_define_class(env, "SocketEvents", NAPI_AUTO_LENGTH, construct, NULL,
                          sizeof methods / sizeof methods[0], methods, &klass));
  CHECK(napi_set_named_property(env, exports, "SocketEvents", klass));
  /* Where read()'s events hold what, so JavaScript does not repeat socket_events.h. */
  napi_value layout, number;
  const struct { const char *name; int value; } fields[] = {
      {"size", SOCKET_EVENT_SIZE},
      {"sockAt", offsetof(struct socket_owner_event, sock)},
      {"pidAt", offsetof(struct socket_owner_event, pid_tgid)},
      {"uidAt", offsetof(struct socket_owner_event, uid)},
      {"netnsAt", offsetof(struct socket_owner_event, netns)},
      {"kindAt", offsetof(struct socket_owner_event, kind)},
      {"oldStateAt", offsetof(struct socket_owner_event, oldstate)},
      {"newStateAt", offsetof(struct socket_owner_event, newstate)},
      {"familyAt", offsetof(struct socket_owner_event, family)},
      {"protocolAt", offsetof(struct socket_owner_event, protocol)},
      {"localPortAt", offsetof(struct socket_owner_event, local_port)},
      {"remotePortAt", offsetof(struct socket_owner_event, remote_port)},
      {"localAddressAt", offsetof(struct socket_owner_event, local_address)},
      {"remoteAddressAt", offsetof(struct socket_owner_event, remote_address)},
      {"commAt", offsetof(struct socket_owner_event, comm)},
  };
  CHECK(napi_create_object(env, &layout));
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    CHECK(napi_create_int32(env, fields[i].value, &number));
    CHECK(napi_set_named_property(env, layout, fields[i].name, number));
  }
  CHECK(napi_set_named_property(env, exports, "socketEventLayout", layout));
  napi_value mount_function, unmount_function;
  CHECK(napi_create_function(env, "mountCgroup2", NAPI_AUTO_LENGTH, cgroup2_mount, &MOUNTING, &mount_function));
  CHECK(napi_set_named_property(env, exports, "mountCgroup2", mount_function));
  CHECK(napi_create_function(env, "unmountCgroup2", NAPI_AUTO_LENGTH, cgroup2_mount, &UNMOUNTING, &unmount_function));
  CHECK(napi_set_named_property(env, exports, "unmountCgroup2", unmount_function));
  return exports;
}
