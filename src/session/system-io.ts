// The capture session's outside world on a real host: the system clock, /sys, /proc, the
// capture engines and the kernel's socket events.

import { existsSync } from 'node:fs';
import { LiveAttribution } from '../attribute/live-attribution.js';
import { KernelOwners } from '../attribute/kernel-owners.js';
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
        kernelEvents: (options) => KernelOwners.open(options),
        onRefresh: hooks.onRefresh,
        onOwnersFound: hooks.onOwnersFound,
        onProcessesEnded: hooks.onProcessesEnded,
        onError: hooks.onError,
      }),
    readKernelCounters: (device) => readKernelCounters(device),
    processExists: (pid) => existsSync(`/proc/${pid}`),
  };
}
