// What the addon's N-API files share: failing a call on the first N-API error, and finding
// the native state behind `this`.
#ifndef NETMETER_NAPI_UTIL_H
#define NETMETER_NAPI_UTIL_H

#include <node_api.h>
#include <stdio.h>

/* On a failed N-API call, return NULL: JavaScript then sees the exception N-API left pending. */
#define CHECK(call) \
  do { \
    if ((call) != napi_ok) return NULL; \
  } while (0)

/* The state napi_wrap attached to `this`, or NULL with a TypeError pending ("not a CLASS"). */
static inline void *unwrap_this(napi_env env, napi_callback_info info, const char *class_name) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    char text[64];
    snprintf(text, sizeof text, "not a %s", class_name);
    napi_throw_type_error(env, NULL, text);
    return NULL;
  }
  return data;
}

#endif
