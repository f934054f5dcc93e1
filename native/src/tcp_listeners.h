// TCP listening sockets from the kernel's sock_diag netlink interface; see tcp_listeners.c.
#ifndef NETMETER_TCP_LISTENERS_H
#define NETMETER_TCP_LISTENERS_H

#include <node_api.h>

/* Adds tcpListeners() to exports; returns exports, or NULL with an exception pending. */
napi_value tcp_listeners_register(napi_env env, napi_value exports);

#endif
