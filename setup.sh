#!/bin/sh
# Sets netmeter up from this clone on Debian/Ubuntu, then runs it: the Debian packages it
# builds with (for `test`, also the tools the tests use), `npm ci`, then the live view
# (`./setup.sh`, options after it go to netmeter) or the tests (`./setup.sh test`).
# What needs root runs through sudo — or directly on a root shell, where a fresh Debian
# (a container) has no sudo at all.
set -eu
cd "$(dirname "$0")"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup.sh: '$*' needs root: run ./setup.sh as root, or install sudo" >&2
    exit 1
  fi
}

packages="libpcap-dev libbpf-dev build-essential python3"
mode=live
case "${1:-}" in
  test) mode=test; shift; packages="$packages tcpdump tshark iproute2 tmux nethogs dnsmasq-base dnsutils prometheus nginx-light openssl iptables clang llvm" ;;
  live) shift ;;
esac

as_root apt-get update
# Noninteractive: tshark's installer would otherwise stop to ask who may capture.
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $packages
npm ci
if [ "$mode" = test ]; then
  # As root: the tests capture live traffic and make network namespaces.
  as_root npm test
else
  # --silent: npm's "> netmeter@… start" banner stays out of netmeter's output.
  as_root npm start --silent -- "$@"
fi
