// One live capture device behind one interface, whichever engine captures it: `native`
// (netmeter's libpcap engine in native/, the default when built) or `cap` (the reference,
// in a child process). The capture session (src/session/) opens one per device, so a
// device that goes away ends its own source and no other.

import { CapLiveSource } from './cap-source.js';
import { checkCaptureDevice } from './capture-failure.js';
import { NativeLiveSource, nativeCaptureAvailable } from './native-source.js';
import type { PacketBatch } from './packet-batch.js';

/** native: the project's libpcap engine (batches, coalesced per flow); cap: the reference. */
export type CaptureEngine = 'native' | 'cap';

export interface LiveSourceOptions {
  device: string;
  /** Default: native when the addon is built, else cap. */
  engine?: CaptureEngine;
  /** A BPF filter (tcpdump syntax) applied in the kernel. */
  filter?: string;
  /** Promiscuous mode (native; cap always is). */
  promisc?: boolean;
  /**
   * Every packet its own entry, for a consumer that writes packets out (record). Otherwise
   * the native engine coalesces each batch's packets per flow direction (see PacketBatch).
   */
  everyPacket?: boolean;
  /** Bytes kept of each packet (native; cap keeps 65,535). Default 256: headers only. */
  snapLength?: number;
  /** The kernel ring per device (native). Default 8 MiB. */
  bufferBytes?: number;
}

export interface LiveSource {
  readonly device: string;
  readonly engine: CaptureEngine;
  /** Batches until close() (after what was already captured), or until the device fails (throws its error). */
  batches(): AsyncIterable<PacketBatch>;
  /** Packets the capture lost so far: in the kernel's ring or the interface (native), or inside netmeter. */
  droppedPackets(): number;
  close(): Promise<void>;
}

/** Opens `device`, or throws PrivilegeError / CaptureDeviceError in one line. */
export async function openLiveSource(options: LiveSourceOptions): Promise<LiveSource> {
  const { device } = options;
  checkCaptureDevice(device);
  const engine = options.engine ?? (nativeCaptureAvailable() ? 'native' : 'cap');
  const filter = options.filter ? { filter: options.filter } : {};
  if (engine === 'native') {
    const sizes = {
      ...(options.snapLength !== undefined ? { snapLength: options.snapLength } : {}),
      ...(options.bufferBytes !== undefined ? { bufferBytes: options.bufferBytes } : {}),
    };
    const source = await NativeLiveSource.open({ devices: [device], ...filter, ...sizes, promisc: options.promisc ?? false, coalesce: !options.everyPacket });
    return {
      device,
      engine,
      batches: () => source.batches(),
      droppedPackets: () => {
        const [s] = source.interfaceStats();
        return s ? s.droppedByKernel + s.droppedByInterface + s.droppedByNetmeter : 0;
      },
      close: () => source.close(),
    };
  }
  // cap reports no kernel drops, only what it dropped itself.
  const source = await CapLiveSource.open({ devices: [device], ...filter });
  return { device, engine, batches: () => source.batches(), droppedPackets: () => source.droppedPackets, close: () => source.close() };
}
