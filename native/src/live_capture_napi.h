// Adds the LiveCapture class (and pcapVersion) to the addon's exports.
#ifndef NETMETER_LIVE_CAPTURE_NAPI_H
#define NETMETER_LIVE_CAPTURE_NAPI_H

#include <node_api.h>

napi_value live_capture_register(napi_env env, napi_value exports);

#endif
