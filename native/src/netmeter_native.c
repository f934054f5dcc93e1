// netmeter's N-API entry point: exposes the /proc socket-owner walk as a promise that
// settles after the walk has run on a libuv worker thread, never on the event loop, and the
// live capture engine (live_capture_napi.c) and the kernel socket events (socket_events_napi.c).
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "napi_util.h"
#include "live_capture_napi.h"
#include "socket_events_napi.h"
#include "socket_owners.h"
#include "tcp_listeners.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *proc_root;
  socket_owner_list result;
} walk_job;

/* Node's fs errors carry a code such as "ENOENT"; give callers the same to branch on. */
static const char *errno_code(int error) {
  switch (error) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EIO: return "EIO";
    default: return NULL;
  }
}

/* With CHECK (napi_util.h) the helpers below return NULL on a failed N-API call; the caller
 * then settles the promise with whatever exception is pending, so a walk never leaves its
 * promise hanging. */
static napi_value make_walk_error(napi_env env, const walk_job *job) {
  int error = job->result.error;
  const char *reason = strerror(error); /* main thread: strerror's static buffer is safe */
  const char *code_text = errno_code(error);
  size_t size = strlen(job->proc_root) + strlen(reason) + 64;
  char *text = malloc(size);
  if (text == NULL) return NULL;
  snprintf(text, size, "cannot %s %s: %s", job->result.action, job->proc_root, reason);
  napi_value message, code = NULL, path, value;
  napi_status status = napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  free(text);
  CHECK(status);
  if (code_text != NULL) CHECK(napi_create_string_utf8(env, code_text, NAPI_AUTO_LENGTH, &code));
  CHECK(napi_create_error(env, code, message, &value));
  CHECK(napi_create_string_utf8(env, job->proc_root, NAPI_AUTO_LENGTH, &path));
  CHECK(napi_set_named_property(env, value, "path", path));
  return value;
}

/* Two parallel typed arrays instead of an array of objects: one allocation each, and the
 * caller builds its Map in one pass. Float64 holds any inode up to 2^53 exactly. */
static napi_value make_walk_result(napi_env env, const socket_owner_list *list) {
  size_t count = list->count;
  napi_value inode_buffer, pid_buffer, inodes, pids, object;
  void *inode_data, *pid_data;
  CHECK(napi_create_arraybuffer(env, count * sizeof(double), &inode_data, &inode_buffer));
  CHECK(napi_create_arraybuffer(env, count * sizeof(int32_t), &pid_data, &pid_buffer));
  double *inode_out = inode_data;
  int32_t *pid_out = pid_data;
  for (size_t i = 0; i < count; i++) {
    inode_out[i] = (double)list->owners[i].inode;
    pid_out[i] = list->owners[i].pid;
  }
  CHECK(napi_create_typedarray(env, napi_float64_array, count, inode_buffer, 0, &inodes));
  CHECK(napi_create_typedarray(env, napi_int32_array, count, pid_buffer, 0, &pids));
  CHECK(napi_create_object(env, &object));
  CHECK(napi_set_named_property(env, object, "inodes", inodes));
  CHECK(napi_set_named_property(env, object, "pids", pids));
  return object;
}

static void free_job(walk_job *job) {
  socket_owners_free(&job->result);
  free(job->proc_root);
  free(job);
}

static void execute_walk(napi_env env, void *data) {
  (void)env; /* worker thread: N-API must not be touched here */
  walk_job *job = data;
  socket_owners_walk(job->proc_root, &job->result);
}

static void complete_walk(napi_env env, napi_status status, void *data) {
  walk_job *job = data;
  napi_value value = NULL, message;
  int resolve = 0;
  if (status != napi_ok) {
    if (napi_create_string_utf8(env, "socket-owner walk was cancelled", NAPI_AUTO_LENGTH,
                                &message) == napi_ok)
      napi_create_error(env, NULL, message, &value);
  } else if (job->result.error != 0) {
    value = make_walk_error(env, job);
  } else {
    value = make_walk_result(env, &job->result);
    resolve = value != NULL;
  }
  if (resolve) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    if (value == NULL) napi_get_and_clear_last_exception(env, &value);
    napi_reject_deferred(env, job->deferred, value);
  }
  napi_delete_async_work(env, job->work);
  free_job(job);
}

static napi_value throw_type_error(napi_env env, const char *text) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
  return NULL;
}

static napi_value walk_socket_owners(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise, resource_name;
  napi_valuetype type;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_string)
    return throw_type_error(env, "walkSocketOwners(procRoot): procRoot must be a string");

  size_t length;
  CHECK(napi_get_value_string_utf8(env, argv[0], NULL, 0, &length));
  walk_job *job = calloc(1, sizeof *job);
  if (job == NULL || (job->proc_root = malloc(length + 1)) == NULL) {
    free(job);
    napi_throw_error(env, "ENOMEM", "cannot allocate the socket-owner walk");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[0], job->proc_root, length + 1, &length) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "netmeter:walkSocketOwners", NAPI_AUTO_LENGTH,
                              &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, execute_walk, complete_walk, job,
                             &job->work) != napi_ok) {
    free_job(job);
    napi_throw_error(env, NULL, "cannot start the socket-owner walk");
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free_job(job);
    napi_throw_error(env, NULL, "cannot queue the socket-owner walk");
    return NULL;
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value function;
  CHECK(napi_create_function(env, "walkSocketOwners", NAPI_AUTO_LENGTH, walk_socket_owners,
                             NULL, &function));
  CHECK(napi_set_named_property(env, exports, "walkSocketOwners", function));
  if (live_capture_register(env, exports) == NULL) return NULL;
  if (tcp_listeners_register(env, exports) == NULL) return NULL;
  return socket_events_register(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
