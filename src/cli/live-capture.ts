// What `netmeter` (live) and `netmeter record` share: checking privileges, choosing the
// interfaces, reading /proc once before the first packet, and starting the capture.

import { Meter } from '../account/meter.js';
import { LiveAttribution } from '../attribute/live-attribution.js';
import type { SocketSnapshot } from '../attribute/types.js';
import { CapLiveSource } from '../capture/cap-source.js';
import { NativeLiveSource, nativeCaptureAvailable } from '../capture/native-source.js';
import { resolveCaptureInterfaces } from '../capture/capture-interfaces.js';
import { hasCapturePrivilege, PrivilegeError } from '../capture/privilege.js';
import type { Cidr } from '../decode/address.js';

/** native: the project's libpcap engine (batches, ~100 ns a packet); cap: the reference. */
export type CaptureEngine = 'native' | 'cap';

export interface LiveCaptureOptions {
  interfaces: string[];
  /** Default: native when the addon is built, else cap. */
  engine?: CaptureEngine;
  /** Put the interfaces in promiscuous mode (native; cap always does). */
  promisc?: boolean;
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
  source: CapLiveSource | NativeLiveSource;
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
  const engine = options.engine ?? (nativeCaptureAvailable() ? 'native' : 'cap');
  const filter = options.filter ? { filter: options.filter } : {};
  const source = engine === 'native' ? await NativeLiveSource.open({ devices, ...filter, promisc: options.promisc ?? false }) : await CapLiveSource.open({ devices, ...filter });
  return { devices, meter, attribution, source };
}

/** Packets each device lost: in the kernel or the interface (native engine), or inside netmeter. */
export function droppedPackets(source: CapLiveSource | NativeLiveSource, devices: string[]): Map<string, number> {
  if (source instanceof NativeLiveSource) {
    return new Map(source.interfaceStats().map((s, i) => [devices[i]!, s.droppedByKernel + s.droppedByInterface + s.droppedByNetmeter]));
  }
  // cap reports no kernel drops; what it dropped itself is not per device.
  return new Map([[devices[0]!, source.droppedPackets]]);
}
