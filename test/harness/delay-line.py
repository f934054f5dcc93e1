#!/usr/bin/env python3
"""A delay line between two TUN devices, for shaped speed test benchmarks on a kernel
without netem: every packet read from one device is written to the other DELAY_MS later,
in order. Usage: delay-line.py TUN_A TUN_B DELAY_MS (one-way delay; run it in the
namespace that routes through the devices, see test/bench/speedtest-delay-bench.ts)."""

import collections
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    a, b = open_tun(sys.argv[1]), open_tun(sys.argv[2])
    delay = float(sys.argv[3]) / 1000.0
    # The delay is the same for every packet, so a FIFO per direction keeps them in order.
    queues = {a: collections.deque(), b: collections.deque()}  # keyed by the fd to write to
    peer = {a: b, b: a}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        now = time.monotonic()
        due = min((q[0][0] for q in queues.values() if q), default=None)
        timeout = None if due is None else max(0.0, due - now)
        ready, _, _ = select.select([a, b], [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            for _ in range(256):
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                queues[peer[fd]].append((now + delay, packet))
        now = time.monotonic()
        for out, queue in queues.items():
            while queue and queue[0][0] <= now:
                try:
                    os.write(out, queue.popleft()[1])
                except OSError:
                    pass  # the kernel would not take it (full, or the device not up yet): a drop


if __name__ == "__main__":
    main()
