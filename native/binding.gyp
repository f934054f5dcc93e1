# Builds netmeter's N-API addon: `npm ci` runs node-gyp here (package.json "install").
{
  "targets": [
    {
      "target_name": "netmeter_native",
      "sources": [
        "src/netmeter_native.c",
        "src/socket_owners.c",
        "src/live_batch.c",
        "src/flow_key.c",
        "src/live_capture.c",
        "src/live_capture_napi.c",
        "src/socket_events.c",
        "src/socket_events_napi.c",
        "src/tcp_listeners.c"
      ],
      # Plain C N-API at a fixed version keeps the addon ABI-stable across Node releases.
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11", "-pthread"],
      # The live capture engine reads packets through libpcap (libpcap-dev to build).
      # The kernel socket events load their BPF object with libbpf (libbpf-dev to build).
      "libraries": ["-lpcap", "-lbpf", "-pthread"]
    }
  ]
}
