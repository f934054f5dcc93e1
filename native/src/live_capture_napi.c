// The LiveCapture class JavaScript sees: one libpcap capture per instance, whose thread
// wakes JavaScript through a thread-safe function at most once per pending wake-up, and
// whose batches JavaScript pulls with take() — one call per batch, nothing per packet, and
// no copy: the thread wrote the typed arrays JavaScript reads.
#include <node_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "napi_util.h"
#include "flow_key.h"
#include "live_capture.h"
#include "live_capture_napi.h"

#define DEFAULT_SNAP_LENGTH 256
#define DEFAULT_BUFFER_BYTES (32 * 1024 * 1024)
#define DEFAULT_TIMEOUT_MS 50
#define DEFAULT_FLUSH_MS 100
#define DEFAULT_BATCH_PACKETS 16384
#define DEFAULT_BATCH_BYTES (2 * 1024 * 1024)
#define DEFAULT_MAX_BATCHES 8
#define MAX_SNAP_LENGTH 262144

typedef struct {
  napi_env env;
  live_capture *capture;
  napi_threadsafe_function wake;
  uint16_t interface_index;
  uint32_t batch_packets;
  uint32_t batch_bytes;
  int released;     /* the thread has ended and the thread-safe function was released */
  int tsfn_gone;    /* its finalizer ran */
  int wrapper_gone; /* the JavaScript object was collected */
  int hook_added;
  int hook_ran;
} binding;

static void on_env_cleanup(void *arg);

static void free_binding(binding *b) {
  if (b->hook_added && !b->hook_ran) napi_remove_env_cleanup_hook(b->env, on_env_cleanup, b);
  live_capture_free(b->capture);
  free(b);
}

/* The capture thread ended (or the environment is going away): wait for it, and let go of
 * the thread-safe function so it no longer keeps the event loop alive. */
static void finish_thread(binding *b) {
  if (b->released) return;
  b->released = 1;
  live_capture_join(b->capture);
  napi_release_threadsafe_function(b->wake, napi_tsfn_release);
}

static int is_terminal(live_phase phase) {
  return phase == LIVE_FAILED || phase == LIVE_CLOSED;
}

static void call_wake(napi_env env, napi_value js_callback, void *context, void *data) {
  (void)data;
  binding *b = context;
  /* Cleared before JavaScript looks, so whatever the thread adds from here wakes it again. */
  live_capture_clear_notify(b->capture);
  live_capture_status status;
  live_capture_get_status(b->capture, &status);
  if (is_terminal(status.phase)) finish_thread(b);
  if (env == NULL || js_callback == NULL) return; /* the environment is being torn down */
  napi_value undefined, phase;
  if (napi_get_undefined(env, &undefined) != napi_ok ||
      napi_create_int32(env, (int32_t)status.phase, &phase) != napi_ok)
    return;
  /* The phase as a number (0 opening, 1 running, 2 failed, 3 closed): JavaScript asks for the
   * whole status() only when it changed. */
  napi_call_function(env, undefined, js_callback, 1, &phase, NULL);
  /* An exception from the callback is left pending: Node reports it as uncaught. */
}

static void on_notify(void *context) {
  binding *b = context;
  napi_call_threadsafe_function(b->wake, NULL, napi_tsfn_nonblocking);
}

static void on_wake_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  binding *b = data;
  b->tsfn_gone = 1;
  if (b->wrapper_gone) free_binding(b);
}

static void on_wrapper_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  binding *b = data;
  b->wrapper_gone = 1;
  if (b->tsfn_gone) {
    free_binding(b);
    return;
  }
  if (!b->released) live_capture_stop(b->capture, 0); /* its call_wake will release the rest */
}

/* Process exit or worker termination with a capture still running: stop it and wait, so no
 * thread outlives the environment it would call into. */
static void on_env_cleanup(void *arg) {
  binding *b = arg;
  b->hook_ran = 1;
  if (!b->released) {
    live_capture_stop(b->capture, 0);
    live_capture_join(b->capture);
  }
}

static int get_property(napi_env env, napi_value object, const char *name, napi_valuetype want,
                        napi_value *value) {
  bool has;
  if (napi_has_named_property(env, object, name, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, object, name, value) != napi_ok) return 0;
  napi_valuetype type;
  if (napi_typeof(env, *value, &type) != napi_ok) return 0;
  return type == want;
}

static int get_int(napi_env env, napi_value object, const char *name, int64_t fallback,
                   int64_t min, int64_t max, int64_t *out) {
  napi_value value;
  *out = fallback;
  if (!get_property(env, object, name, napi_number, &value)) return 1;
  int64_t n;
  if (napi_get_value_int64(env, value, &n) != napi_ok || n < min || n > max) {
    char text[160];
    snprintf(text, sizeof text, "LiveCapture: option %s must be an integer from %lld to %lld",
             name, (long long)min, (long long)max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
    return 0;
  }
  *out = n;
  return 1;
}

static char *get_string(napi_env env, napi_value object, const char *name) {
  napi_value value;
  if (!get_property(env, object, name, napi_string, &value)) return strdup("");
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *text = malloc(length + 1);
  if (text == NULL) return NULL;
  if (napi_get_value_string_utf8(env, value, text, length + 1, &length) != napi_ok) {
    free(text);
    return NULL;
  }
  return text;
}

/* new LiveCapture({device, filter?, snapLength?, bufferBytes?, promisc?, timeoutMs?,
 *                  flushMs?, batchPackets?, batchBytes?, maxBatches?, interfaceIndex?,
 *                  coalesce?}, onWake) */
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  if (argc >= 2) {
    napi_typeof(env, argv[0], &t0);
    napi_typeof(env, argv[1], &t1);
  }
  napi_value device_value;
  if (t0 != napi_object || t1 != napi_function ||
      !get_property(env, argv[0], "device", napi_string, &device_value)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "new LiveCapture(options, onWake): options.device must be a string "
                          "and onWake a function");
    return NULL;
  }
  int64_t snap, buffer, timeout, flush, packets, bytes, batches, index;
  if (!get_int(env, argv[0], "snapLength", DEFAULT_SNAP_LENGTH, 1, MAX_SNAP_LENGTH, &snap) ||
      !get_int(env, argv[0], "bufferBytes", DEFAULT_BUFFER_BYTES, 0, 1LL << 30, &buffer) ||
      !get_int(env, argv[0], "timeoutMs", DEFAULT_TIMEOUT_MS, 1, 60000, &timeout) ||
      !get_int(env, argv[0], "flushMs", DEFAULT_FLUSH_MS, 0, 600000, &flush) ||
      !get_int(env, argv[0], "batchPackets", DEFAULT_BATCH_PACKETS, 1, 1 << 20, &packets) ||
      !get_int(env, argv[0], "batchBytes", DEFAULT_BATCH_BYTES, 1, 1 << 28, &bytes) ||
      !get_int(env, argv[0], "maxBatches", DEFAULT_MAX_BATCHES, 1, 4096, &batches) ||
      !get_int(env, argv[0], "interfaceIndex", 0, 0, 65535, &index))
    return NULL;
  bool promisc = false, coalesce = false;
  napi_value flag;
  if (get_property(env, argv[0], "promisc", napi_boolean, &flag)) napi_get_value_bool(env, flag, &promisc);
  if (get_property(env, argv[0], "coalesce", napi_boolean, &flag)) napi_get_value_bool(env, flag, &coalesce);

  char *device = get_string(env, argv[0], "device");
  char *filter = get_string(env, argv[0], "filter");
  binding *b = calloc(1, sizeof *b);
  if (device == NULL || filter == NULL || b == NULL) {
    free(device);
    free(filter);
    free(b);
    napi_throw_error(env, "ENOMEM", "cannot allocate a live capture");
    return NULL;
  }
  b->env = env;
  b->interface_index = (uint16_t)index;
  b->batch_packets = (uint32_t)packets;
  /* As live_capture_start() does: a batch holds at least one whole packet. */
  b->batch_bytes = (uint32_t)(bytes < snap ? snap : bytes);

  napi_value name;
  if (napi_create_string_utf8(env, "netmeter:LiveCapture", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, b, on_wake_finalized, b,
                                      call_wake, &b->wake) != napi_ok) {
    free(device);
    free(filter);
    free(b);
    napi_throw_error(env, NULL, "cannot create the live capture's wake-up function");
    return NULL;
  }
  live_capture_options options = {
      .device = device,
      .filter = filter,
      .snap_length = (int)snap,
      .buffer_bytes = (int)buffer,
      .promisc = promisc,
      .timeout_ms = (int)timeout,
      .flush_ms = (int)flush,
      .batch_packets = (uint32_t)packets,
      .batch_bytes = (uint32_t)bytes,
      .max_batches = (uint32_t)batches,
      .interface_index = (uint16_t)index,
      .coalesce = coalesce,
  };
  char message[256] = "";
  b->capture = live_capture_start(&options, on_notify, b, message, sizeof message);
  free(device);
  free(filter);
  if (b->capture == NULL) {
    /* The finalizer of the thread-safe function frees b once it has been released. */
    b->released = 1;
    b->wrapper_gone = 1;
    napi_release_threadsafe_function(b->wake, napi_tsfn_abort);
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  /* No reference back: the object lives as long as JavaScript holds it. */
  if (napi_wrap(env, self, b, on_wrapper_finalized, NULL, NULL) != napi_ok) {
    live_capture_stop(b->capture, 0);
    b->wrapper_gone = 1; /* no wrapper will ever be finalized: the tsfn finalizer frees */
    napi_throw_error(env, NULL, "cannot wrap the live capture");
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, on_env_cleanup, b) == napi_ok) b->hook_added = 1;
  return self;
}

static binding *unwrap(napi_env env, napi_callback_info info) {
  return unwrap_this(env, info, "LiveCapture");
}

static int set_string(napi_env env, napi_value object, const char *key, const char *text) {
  napi_value value;
  return napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value) == napi_ok &&
         napi_set_named_property(env, object, key, value) == napi_ok;
}

static int set_number(napi_env env, napi_value object, const char *key, double number) {
  napi_value value;
  return napi_create_double(env, number, &value) == napi_ok &&
         napi_set_named_property(env, object, key, value) == napi_ok;
}

static void on_batch_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  live_batch_put(hint);
}

/* take(): the oldest waiting batch as an ArrayBuffer laid out as layout() says, or null.
 * No copy: it is an external ArrayBuffer over the memory the capture thread wrote, which
 * goes back to the pool when the garbage collector frees the buffer. Its length stops at
 * the last captured byte in use, so the collector does not see more memory than there is. */
static napi_value take(napi_env env, napi_callback_info info) {
  binding *b = unwrap(env, info);
  if (b == NULL) return NULL;
  live_batch *batch = live_capture_take(b->capture);
  napi_value result;
  if (batch == NULL) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  live_batch_seal(batch);
  size_t length = live_batch_data_at(batch) + batch->used;
  if (napi_create_external_arraybuffer(env, batch->memory, length, on_batch_finalized, batch,
                                       &result) != napi_ok) {
    live_batch_put(batch);
    return NULL;
  }
  return result;
}

/* release(buffer): the consumer is done with a batch take() returned: detach its buffer
 * (every view of it becomes empty), so its memory goes back to the pool now rather than
 * whenever the garbage collector gets to it. */
static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], undefined;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_buffer = false;
  if (argc >= 1) napi_is_arraybuffer(env, argv[0], &is_buffer);
  if (!is_buffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "release(buffer): buffer must be an ArrayBuffer from take()");
    return NULL;
  }
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, argv[0], &detached) == napi_ok && !detached)
    CHECK(napi_detach_arraybuffer(env, argv[0]));
  CHECK(napi_get_undefined(env, &undefined));
  return undefined;
}

/* layout(): where take()'s arrays start, in bytes: {countAt, usedAt, timestampAt,
 * lastTimestampAt, offsetAt, capturedAt, wireAt, packetsAt, interfaceAt, dataAt}; the same
 * for every batch of this capture. */
static napi_value layout(napi_env env, napi_callback_info info) {
  binding *b = unwrap(env, info);
  if (b == NULL) return NULL;
  live_batch shape = {.packet_capacity = b->batch_packets, .data_capacity = b->batch_bytes};
  napi_value result;
  CHECK(napi_create_object(env, &result));
  if (!set_number(env, result, "countAt", 0) || !set_number(env, result, "usedAt", 4) ||
      !set_number(env, result, "timestampAt", (double)live_batch_timestamp_at(&shape)) ||
      !set_number(env, result, "lastTimestampAt", (double)live_batch_last_timestamp_at(&shape)) ||
      !set_number(env, result, "offsetAt", (double)live_batch_offset_at(&shape)) ||
      !set_number(env, result, "capturedAt", (double)live_batch_captured_at(&shape)) ||
      !set_number(env, result, "wireAt", (double)live_batch_wire_at(&shape)) ||
      !set_number(env, result, "packetsAt", (double)live_batch_packets_at(&shape)) ||
      !set_number(env, result, "interfaceAt", (double)live_batch_interface_at(&shape)) ||
      !set_number(env, result, "dataAt", (double)live_batch_data_at(&shape)))
    return NULL;
  return result;
}

static const char *phase_name(live_phase phase) {
  switch (phase) {
    case LIVE_OPENING: return "opening";
    case LIVE_RUNNING: return "running";
    case LIVE_FAILED: return "failed";
    case LIVE_CLOSED: return "closed";
  }
  return "unknown";
}

/* status(): {phase, linkType, nanosecond, received, droppedByKernel, droppedByInterface,
 * droppedByNetmeter, warning?, errorCode?, error?} */
static napi_value status(napi_env env, napi_callback_info info) {
  binding *b = unwrap(env, info);
  if (b == NULL) return NULL;
  live_capture_status st;
  live_capture_get_status(b->capture, &st);
  napi_value result, nano;
  CHECK(napi_create_object(env, &result));
  if (!set_string(env, result, "phase", phase_name(st.phase)) ||
      !set_number(env, result, "linkType", st.link_type) ||
      !set_number(env, result, "received", (double)st.received) ||
      !set_number(env, result, "droppedByKernel", (double)st.dropped_by_kernel) ||
      !set_number(env, result, "droppedByInterface", (double)st.dropped_by_interface) ||
      !set_number(env, result, "droppedByNetmeter", (double)st.dropped_by_netmeter))
    return NULL;
  CHECK(napi_get_boolean(env, st.nano != 0, &nano));
  CHECK(napi_set_named_property(env, result, "nanosecond", nano));
  if (st.warning[0] != '\0' && !set_string(env, result, "warning", st.warning)) return NULL;
  if (st.error_code != NULL) {
    if (!set_string(env, result, "errorCode", st.error_code) ||
        !set_string(env, result, "error", st.error))
      return NULL;
  }
  return result;
}

/* close(): asks the thread to stop after the packets already in the kernel ring; returns at
 * once. The last wake-up comes with phase "closed". */
static napi_value close_capture(napi_env env, napi_callback_info info) {
  binding *b = unwrap(env, info);
  if (b == NULL) return NULL;
  if (!b->released) live_capture_stop(b->capture, 1);
  napi_value undefined;
  CHECK(napi_get_undefined(env, &undefined));
  return undefined;
}

/* flowKey(bytes, linkType): the 40-byte key the capture coalesces this packet under, as a
 * Buffer, or null when it would not coalesce it. For the test that holds flow_key.c to the
 * TypeScript decoder. */
static napi_value flow_key_of(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_typed = false;
  if (argc >= 2) napi_is_typedarray(env, argv[0], &is_typed);
  int32_t link_type;
  if (!is_typed || napi_get_value_int32(env, argv[1], &link_type) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flowKey(bytes, linkType): a Uint8Array and a number");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *bytes;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, NULL, NULL));
  flow_key key;
  if (type != napi_uint8_array || length > UINT32_MAX || !flow_key_read(bytes, (uint32_t)length, link_type, &key)) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  CHECK(napi_create_buffer_copy(env, sizeof key.bytes, key.bytes, NULL, &result));
  return result;
}

napi_value live_capture_register(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"take", NULL, take, NULL, NULL, NULL, napi_default, NULL},
      {"layout", NULL, layout, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, release, NULL, NULL, NULL, napi_default, NULL},
      {"status", NULL, status, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_capture, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value klass, version;
  CHECK(napi_define_class(env, "LiveCapture", NAPI_AUTO_LENGTH, construct, NULL,
                          sizeof methods / sizeof methods[0], methods, &klass));
  CHECK(napi_set_named_property(env, exports, "LiveCapture", klass));
  napi_value flow_key_function;
  CHECK(napi_create_function(env, "flowKey", NAPI_AUTO_LENGTH, flow_key_of, NULL, &flow_key_function));
  CHECK(napi_set_named_property(env, exports, "flowKey", flow_key_function));
  CHECK(napi_create_string_utf8(env, live_capture_library_version(), NAPI_AUTO_LENGTH, &version));
  CHECK(napi_set_named_property(env, exports, "pcapVersion", version));
  return exports;
}
