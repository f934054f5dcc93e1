# Builds netmeter's N-API addon: `npm ci` runs node-gyp here (package.json "install").
{
  "targets": [
    {
      "target_name": "netmeter_native",
      "sources": ["src/netmeter_native.c", "src/socket_owners.c"],
      # Plain C N-API at a fixed version keeps the addon ABI-stable across Node releases.
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
