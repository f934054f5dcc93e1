// What the addon's N-API files share: failing a call on the first N-API error, and finding
// the native state behind `this`.
#ifndef NETMETER_NAPI_UTIL_H
#define NETMETER_NAPI_UTIL_H

#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>

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

/* The name of an errno value the addon's callers look for, or NULL. */
static inline const char *errno_name(int error) {
  switch (error) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case ENOMEM: return "ENOMEM";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    default: return NULL;
  }
}

/* Throws "cannot ACTION: REASON" with code = errno's name. */
static inline void throw_errno(napi_env env, const char *action, int error) {
  char text[256];
  snprintf(text, sizeof text, "cannot %s: %s", action, strerror(error));
  napi_throw_error(env, errno_name(error), text);
}

#endif
