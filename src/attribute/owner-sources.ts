// Where a live capture's socket owners come from, in words for a person: /proc, and the
// kernel's socket events when they loaded — or why they did not (a missing capability, no
// tracefs), which is what an administrator needs to know to fix it.

/** `unavailable`: LiveAttribution.connectEventsUnavailable (undefined when the events loaded). */
export function describeOwnerSources(unavailable: string | undefined): string {
  return unavailable === undefined ? '/proc and kernel events (eBPF: connects, process ends)' : `/proc only (kernel events unavailable: ${unavailable})`;
}
