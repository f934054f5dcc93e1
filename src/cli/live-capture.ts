// What `netmeter` (live) and `netmeter record` share: checking privileges, choosing the
// interfaces, reading /proc once before the first packet, and starting the capture.

import { Meter } from '../account/meter.js';
import { LiveAttribution } from '../attribute/live-attribution.js';
import type { SocketSnapshot } from '../attribute/types.js';
import { CapLiveSource } from '../capture/cap-source.js';
import { resolveCaptureInterfaces } from '../capture/capture-interfaces.js';
import { hasCapturePrivilege, PrivilegeError } from '../capture/privilege.js';
import type { Cidr } from '../decode/address.js';

export interface LiveCaptureOptions {
  interfaces: string[];
  filter?: string;
  localCidrs: Cidr[];
  /** Called after every re-read of /proc (after waiting records were credited). */
  onSnapshot?: (snapshot: SocketSnapshot) => void;
  /** Called when a re-read of /proc fails; the last good snapshot stays in use. */
  onProcError?: (error: unknown) => void;
}

export interface LiveCapture {
  devices: string[];
  meter: Meter;
  attribution: LiveAttribution;
  source: CapLiveSource;
}

export async function startLiveCapture(options: LiveCaptureOptions): Promise<LiveCapture> {
  const devices = resolveCaptureInterfaces(options.interfaces);
  if (!hasCapturePrivilege()) throw new PrivilegeError(devices.join(', '));
  let meter: Meter | undefined;
  const attribution = new LiveAttribution({
    localCidrs: options.localCidrs,
    onRefresh: (snapshot) => {
      meter?.attributeUnknown();
      options.onSnapshot?.(snapshot);
    },
    ...(options.onProcError ? { onError: options.onProcError } : {}),
  });
  meter = new Meter(attribution);
  // Sockets that exist before the first packet are known before it arrives.
  await attribution.refresh();
  const source = await CapLiveSource.open({ devices, ...(options.filter ? { filter: options.filter } : {}) });
  return { devices, meter, attribution, source };
}
