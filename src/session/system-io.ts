// The capture session's outside world on a real host: the system clock, /sys, /proc, the
// capture engines and the kernel's socket events.

import { existsSync } from 'node:fs';
import { LiveAttribution } from '../attribute/live-attribution.js';
import { KernelOwners, type KernelEventsChoice } from '../attribute/kernel-owners.js';
import { defaultCaptureInterfaces, resolveCaptureInterfaces } from '../capture/capture-interfaces.js';
import { readKernelCounters } from '../capture/kernel-counters.js';
import { openLiveSource } from '../capture/live-source.js';
import { hasCapturePrivilege } from '../capture/privilege.js';
import { systemClock } from '../clock.js';
import type { SessionIo } from './capture-session.js';

export function systemSessionIo(): SessionIo {
  return {
    clock: systemClock,
    resolveInterfaces: (requested) => resolveCaptureInterfaces(requested),
    defaultInterfaces: () => defaultCaptureInterfaces(),
    hasCapturePrivilege: () => hasCapturePrivilege(),
    openSource: openLiveSource,
    startAttribution: (hooks, localCidrs) =>
      new LiveAttribution({
        localCidrs,
        clock: systemClock,
        kernelEvents: (options) => KernelOwners.open(options, kernelEventsChoice(process.env.NETMETER_KERNEL_EVENTS)),
        onRefresh: hooks.onRefresh,
        onOwnersFound: hooks.onOwnersFound,
        onProcessesEnded: hooks.onProcessesEnded,
        onError: hooks.onError,
      }),
    readKernelCounters: (device) => readKernelCounters(device),
    processExists: (pid) => existsSync(`/proc/${pid}`),
  };
}

/**
 * NETMETER_KERNEL_EVENTS: `tracepoints` keeps the kernel's socket hooks off, `off` every
 * kernel program (attribution from /proc alone); anything else, all that load.
 */
export function kernelEventsChoice(value: string | undefined): KernelEventsChoice {
  return value === 'tracepoints' || value === 'off' ? value : 'all';
}
