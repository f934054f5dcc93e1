// Where a live capture's socket owners come from, in words for a person: the kernel's
// socket hooks with /proc read at start, its tracepoints with /proc read every second, or
// /proc alone — and why not the better ones, which is what an administrator needs to know to
// fix it (a missing capability, no cgroup v2, a kernel without BTF).

import type { OwnerSources } from './live-attribution.js';

export function describeOwnerSources(sources: OwnerSources): string {
  if (sources.kernel === 'socket hooks') return 'kernel events (eBPF: socket hooks, connects, process ends) and /proc at start';
  if (sources.kernel === 'tracepoints') return `/proc every second and kernel events (eBPF: connects, listens, process ends; socket hooks unavailable: ${sources.hooksUnavailable ?? 'unknown'})`;
  return `/proc only (kernel events unavailable: ${sources.kernelUnavailable ?? 'unknown'})`;
}
