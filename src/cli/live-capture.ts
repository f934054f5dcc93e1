// What `netmeter` (live), `netmeter record` and `netmeter daemon` share: their capture
// options, checking privileges, choosing the interfaces, reading /proc once before the
// first packet, and starting the capture.

import type { ParseArgsConfig } from 'node:util';
import { Meter } from '../account/meter.js';
import { LiveAttribution } from '../attribute/live-attribution.js';
import type { SocketSnapshot } from '../attribute/types.js';
import { CapLiveSource } from '../capture/cap-source.js';
import { NativeLiveSource, nativeCaptureAvailable } from '../capture/native-source.js';
import { resolveCaptureInterfaces } from '../capture/capture-interfaces.js';
import { hasCapturePrivilege, PrivilegeError } from '../capture/privilege.js';
import type { Cidr } from '../decode/address.js';
import { parseCidrList, parseEngine } from './options.js';

/** native: the project's libpcap engine (batches, coalesced per flow); cap: the reference. */
export type CaptureEngine = 'native' | 'cap';

export interface LiveCaptureOptions {
  interfaces: string[];
  /** Default: native when the addon is built, else cap. */
  engine?: CaptureEngine;
  /** Put the interfaces in promiscuous mode (native; cap always does). */
  promisc?: boolean;
  filter?: string;
  localCidrs: Cidr[];
  /**
   * Every packet as captured, for a caller that writes them out (record). Otherwise the
   * native engine coalesces each batch's packets per flow direction: the same accounting
   * for a fraction of the work (see PacketBatch).
   */
  everyPacket?: boolean;
  /** Called after every re-read of /proc (after waiting records were credited). */
  onSnapshot?: (snapshot: SocketSnapshot) => void;
  /** Called when a re-read of /proc fails; the last good snapshot stays in use. */
  onProcError?: (error: unknown) => void;
}

/** The options of every capturing command, to spread into its parseArgs options. */
export const captureOptions = {
  interface: { type: 'string', short: 'i', multiple: true, default: [] as string[] },
  filter: { type: 'string' },
  engine: { type: 'string' },
  promisc: { type: 'boolean', default: false },
  local: { type: 'string' },
} satisfies ParseArgsConfig['options'];

/**
 * The help lines of captureOptions but --local (each command places that line itself).
 * What -i does when not given is in each command's words, a line per argument.
 */
export function captureOptionsHelp(...interfaceDefault: string[]): string {
  return `  -i, --interface IF   capture on IF (repeatable; ${interfaceDefault.join(`\n${' '.repeat(23)}`)})
  --filter BPF         capture filter, tcpdump syntax
  --engine E           native (default when built) or cap: the capture engine
  --promisc            put the interfaces in promiscuous mode (see other hosts' traffic)`;
}

export const LOCAL_OPTION_HELP = "  --local CIDRS        more addresses to treat as this host's";

/** captureOptions' parsed values, checked: a bad --engine or --local is a one-line UsageError. */
export function liveCaptureOptions(values: { interface: string[]; filter?: string; engine?: string; promisc: boolean; local?: string }): LiveCaptureOptions {
  return {
    interfaces: values.interface,
    engine: parseEngine(values.engine),
    promisc: values.promisc,
    localCidrs: values.local === undefined ? [] : parseCidrList(values.local),
    ...(values.filter ? { filter: values.filter } : {}),
  };
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
    // The kernel named owners a packet asked for before: credit those records now.
    onOwnersFound: () => meter?.attributeUnknown(),
    // A port an ended process held may pass to another: its next packets start a new record.
    onProcessesEnded: (pids) => meter?.endOwners(pids),
    ...(options.onProcError ? { onError: options.onProcError } : {}),
  });
  meter = new Meter(attribution);
  // Sockets that exist before the first packet are known before it arrives.
  await attribution.refresh();
  const engine = options.engine ?? (nativeCaptureAvailable() ? 'native' : 'cap');
  const filter = options.filter ? { filter: options.filter } : {};
  const source =
    engine === 'native'
      ? await NativeLiveSource.open({ devices, ...filter, promisc: options.promisc ?? false, coalesce: !options.everyPacket })
      : await CapLiveSource.open({ devices, ...filter });
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
