// Adds the SocketEvents class (and mountTracefs) to the addon's exports.
#ifndef NETMETER_SOCKET_EVENTS_NAPI_H
#define NETMETER_SOCKET_EVENTS_NAPI_H

#include <node_api.h>

napi_value socket_events_register(napi_env env, napi_value exports);

#endif
