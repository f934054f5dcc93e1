// Live capture through netmeter's own addon (native/src/live_capture.c): one libpcap handle
// per device, each read on a thread of its own with TPACKET_V3 blocks, a 256-byte snap
// length and an 8 MiB ring, and handed to JavaScript a batch of up to thousands of packets
// per call, with the wire length and kernel timestamp libpcap records — or, coalesced, an
// entry per flow direction and batch. This module only turns those batches into
// PacketBatch objects, merges devices and types the errors.

import { loadNativeAddon } from '../native-addon.js';
import { CaptureDeviceError } from './capture-interfaces.js';
import { captureFailure, checkCaptureDevice } from './capture-failure.js';
import type { CaptureInterface, PacketBatch, PacketSource } from './packet-batch.js';

export interface NativeLiveSourceOptions {
  devices: string[];
  /** A BPF filter (tcpdump syntax) applied in the kernel. */
  filter?: string;
  /** Bytes kept of each packet; the wire length is recorded whatever this is. Default 256. */
  snapLength?: number;
  /** Kernel ring per device (pcap_set_buffer_size). Default 8 MiB. */
  bufferBytes?: number;
  /** Put the interfaces in promiscuous mode. Default false: only this host's traffic. */
  promisc?: boolean;
  /**
   * Coalesce each batch's packets of one flow direction into one entry (see PacketBatch):
   * the meter then handles an entry per flow and batch rather than per packet. Default
   * false: every packet its own entry, as a consumer that writes packets out needs.
   */
  coalesce?: boolean;
  /** Longest wait before captured packets are handed on. Default 100 ms. */
  flushMs?: number;
  /** Entries per batch. Default 16384. */
  batchPackets?: number;
  /** Captured bytes per batch. Default 2 MiB (16384 packets of 128 bytes). */
  batchBytes?: number;
  /** Full batches per device that may wait for the consumer before packets are dropped. Default 8. */
  maxQueuedBatches?: number;
  /**
   * Leave every batch valid for as long as the consumer holds it. By default a batch's
   * memory is taken back (its arrays detached, left empty) when the consumer asks for the
   * next batch — the moment every consumer in netmeter is done with it — which spares a
   * page fault per few dozen packets; a consumer that keeps batches sets this.
   */
  keepBatches?: boolean;
  sysRoot?: string;
}

/** libpcap's counters (pcap_stats), summed over the devices. */
export interface CaptureStats {
  /** Packets that passed the filter, including those dropped later. On lo each packet counts twice (both directions). */
  received: number;
  /** Dropped by the kernel because the ring was full: netmeter did not read fast enough. */
  droppedByKernel: number;
  /** Dropped by the interface or its driver (libpcap reads these only in promiscuous mode). */
  droppedByInterface: number;
}

type Phase = 'opening' | 'running' | 'failed' | 'closed';
const PHASES: readonly Phase[] = ['opening', 'running', 'failed', 'closed'];

/** What the addon's LiveCapture.status() returns. */
interface NativeStatus extends CaptureStats {
  phase: Phase;
  linkType: number;
  nanosecond: boolean;
  droppedByNetmeter: number;
  warning?: string;
  errorCode?: 'EPERM' | 'ENODEV' | 'ENETDOWN' | 'EFILTER' | 'ECAPTURE' | 'ERROR';
  error?: string;
}

/** Byte offsets within every ArrayBuffer a capture's take() returns. */
interface NativeBatchLayout {
  countAt: number;
  usedAt: number;
  timestampAt: number;
  lastTimestampAt: number;
  offsetAt: number;
  capturedAt: number;
  wireAt: number;
  packetsAt: number;
  interfaceAt: number;
  dataAt: number;
}

interface NativeLiveCapture {
  /** The oldest waiting batch, or null: one ArrayBuffer the capture thread filled. */
  take(): ArrayBuffer | null;
  /** Detaches a buffer from take(): its memory goes back to the capture's pool at once. */
  release(buffer: ArrayBuffer): void;
  layout(): NativeBatchLayout;
  status(): NativeStatus;
  close(): void;
}

interface NativeCaptureOptions {
  device: string;
  filter: string;
  snapLength: number;
  bufferBytes: number;
  promisc: boolean;
  timeoutMs: number;
  flushMs: number;
  batchPackets: number;
  batchBytes: number;
  maxBatches: number;
  interfaceIndex: number;
  coalesce: boolean;
}

interface CaptureAddon {
  /** onWake gets the phase: 0 opening, 1 running, 2 failed, 3 closed. */
  LiveCapture: new (options: NativeCaptureOptions, onWake: (phase: number) => void) => NativeLiveCapture;
  pcapVersion: string;
}

const DEFAULT_SNAP_LENGTH = 256;
const MAX_SNAP_LENGTH = 262144;
/**
 * With TPACKET_V3 a packet takes about its kept bytes plus 80 bytes of headers in the ring,
 * so 4 MiB holds ~29,000 small packets: ~90 ms at 330,000 packets/s, the most this kind of
 * machine sends. The ring is emptied by the capture thread, which never waits for
 * JavaScript (a pause there — a GC, a /proc re-read, a screen redraw — fills the batch
 * queue behind it, maxQueuedBatches x batchPackets = 131,072 packets), so it only covers
 * that thread's scheduling delays. It is resident memory from the start (the kernel maps
 * the whole ring): 8 MiB was an eighth of an idle netmeter, and lost nothing more flat out
 * (docs/benchmarks.md). (tcpdump and nethogs take libpcap's 2 MiB.)
 */
const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024;
const DEFAULT_FLUSH_MS = 100;
/** The kernel's block timeout bounds how late the thread sees a packet on a quiet link. */
const MAX_TIMEOUT_MS = 50;
/**
 * Each batch costs JavaScript a wake-up, whose fixed cost (a cold event loop, the async
 * generator, a few allocations) was ~150 µs measured: 16384 packets make it ~10 ns a packet
 * at 100,000 packets/s, where 4096 made it ~45. flushMs still bounds the wait on a quiet link.
 */
const DEFAULT_BATCH_PACKETS = 16384;
const DEFAULT_BATCH_BYTES = 2 * 1024 * 1024;
const DEFAULT_MAX_QUEUED_BATCHES = 8;

let addon: CaptureAddon | undefined;
let addonError: Error | undefined;
let addonTried = false;

/** Whether the native engine is built; when false, nativeCaptureError() says why. */
export function nativeCaptureAvailable(): boolean {
  return loadAddon() !== undefined;
}

/** Why the native engine did not load, or undefined when it did. */
export function nativeCaptureError(): Error | undefined {
  loadAddon();
  return addonError;
}

export class NativeLiveSource implements PacketSource {
  readonly kind = 'live' as const;
  private readonly ifaces: CaptureInterface[];
  private readonly handles: NativeLiveCapture[] = [];
  private readonly layouts: NativeBatchLayout[] = [];
  private readonly phases: Phase[];
  private readonly opened: Promise<void>;
  private readonly ended: Promise<void>;
  private resolveOpened!: () => void;
  private rejectOpened!: (error: Error) => void;
  private resolveEnded!: () => void;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** The device whose batch is taken first next time, so one busy device cannot starve another. */
  private nextHandle = 0;
  /** The buffer of the batch yielded last, and the capture it came from. */
  private taken: { handle: NativeLiveCapture; buffer: ArrayBuffer } | undefined;

  /**
   * Starts capturing. A device that does not exist, or an engine that is not built, throws
   * CaptureDeviceError here; problems opening a device (privileges, a bad filter, a device
   * that is down) reject `ready()`.
   */
  constructor(private readonly options: NativeLiveSourceOptions) {
    const { devices } = options;
    if (devices.length === 0) throw new CaptureDeviceError('', 'no interface to capture on');
    for (const device of devices) checkCaptureDevice(device, options.sysRoot);
    const native = loadAddon();
    if (native === undefined) {
      throw new CaptureDeviceError(
        devices.join(','),
        `the native capture engine is not built (run: npm rebuild, with libpcap-dev installed): ${addonError?.message.split('\n')[0] ?? 'unknown error'}`,
      );
    }
    this.ifaces = devices.map((name) => ({ name, linkType: -1 }));
    this.phases = devices.map(() => 'opening');
    this.opened = new Promise<void>((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    this.opened.catch(() => undefined); // observed through ready() and batches()
    this.ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

    const snapLength = Math.max(1, Math.min(Math.trunc(options.snapLength ?? DEFAULT_SNAP_LENGTH), MAX_SNAP_LENGTH));
    const flushMs = Math.max(0, Math.trunc(options.flushMs ?? DEFAULT_FLUSH_MS));
    try {
      for (const [index, device] of devices.entries()) {
        const handle = new native.LiveCapture(
          {
            device,
            filter: options.filter ?? '',
            snapLength,
            bufferBytes: options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
            promisc: options.promisc ?? false,
            timeoutMs: Math.max(1, Math.min(MAX_TIMEOUT_MS, Math.round(flushMs / 2))),
            flushMs,
            batchPackets: options.batchPackets ?? DEFAULT_BATCH_PACKETS,
            batchBytes: Math.max(snapLength, options.batchBytes ?? DEFAULT_BATCH_BYTES),
            maxBatches: options.maxQueuedBatches ?? DEFAULT_MAX_QUEUED_BATCHES,
            interfaceIndex: index,
            coalesce: options.coalesce ?? false,
          },
          (phase) => this.onWake(index, phase),
        );
        this.handles.push(handle);
        this.layouts.push(handle.layout());
      }
    } catch (error) {
      for (const handle of this.handles) handle.close();
      throw new CaptureDeviceError(devices.join(','), `cannot start capturing: ${(error as Error).message}`);
    }
  }

  /** A source whose devices are all open and capturing. */
  static async open(options: NativeLiveSourceOptions): Promise<NativeLiveSource> {
    const source = new NativeLiveSource(options);
    try {
      await source.ready();
    } catch (error) {
      await source.close().catch(() => undefined);
      throw error;
    }
    return source;
  }

  /** libpcap's version text, or undefined when the engine is not built. */
  static libraryVersion(): string | undefined {
    return loadAddon()?.pcapVersion;
  }

  /** Resolves once every device is capturing; rejects with PrivilegeError or CaptureDeviceError. */
  ready(): Promise<void> {
    return this.opened;
  }

  interfaces(): readonly CaptureInterface[] {
    return this.ifaces;
  }

  /** Packets captured but dropped inside netmeter because batches were not taken fast enough. */
  get droppedPackets(): number {
    let dropped = 0;
    for (const handle of this.handles) dropped += handle.status().droppedByNetmeter;
    return dropped;
  }

  /** libpcap's counters, summed over the devices; refreshed by the capture threads every 100 ms. */
  stats(): CaptureStats {
    const total: CaptureStats = { received: 0, droppedByKernel: 0, droppedByInterface: 0 };
    for (const handle of this.handles) {
      const s = handle.status();
      total.received += s.received;
      total.droppedByKernel += s.droppedByKernel;
      total.droppedByInterface += s.droppedByInterface;
    }
    return total;
  }

  /**
   * libpcap's counters per device, in the order of interfaces(), with the packets netmeter
   * itself dropped on each: what a report's interfaces[].droppedPackets is made of.
   */
  interfaceStats(): Array<CaptureStats & { droppedByNetmeter: number }> {
    return this.handles.map((handle) => {
      const { received, droppedByKernel, droppedByInterface, droppedByNetmeter } = handle.status();
      return { received, droppedByKernel, droppedByInterface, droppedByNetmeter };
    });
  }

  /**
   * Batches until close() (after the packets already captured) or until a device fails.
   * A batch stays valid until the next one is asked for (see keepBatches).
   */
  async *batches(): AsyncGenerator<PacketBatch> {
    await this.opened;
    try {
      for (;;) {
        // Read before taking: a capture that has ended has queued its last batch already.
        const ended = this.allEnded();
        const batch = this.take();
        if (batch) {
          const { handle, buffer } = this.taken!;
          yield batch;
          // Asked for the next batch: done with this one. Its memory goes back to the
          // capture's pool now, still warm, instead of whenever the collector frees it.
          if (!this.options.keepBatches) handle.release(buffer);
          continue;
        }
        if (ended) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      // A consumer that stops iterating is done with the capture.
      if (!this.allEnded()) await this.close();
    }
  }

  /** Stops capturing; batches() yields what was captured up to now, then ends. */
  async close(): Promise<void> {
    for (const [i, handle] of this.handles.entries()) {
      if (this.phases[i] === 'opening' || this.phases[i] === 'running') handle.close();
    }
    await this.ended;
  }

  private take(): PacketBatch | undefined {
    const n = this.handles.length;
    for (let k = 0; k < n; k++) {
      const i = (this.nextHandle + k) % n;
      const taken = this.handles[i]!.take();
      if (taken === null) continue;
      this.nextHandle = (i + 1) % n;
      // Views of the one buffer the capture thread wrote: nothing here is per packet. The
      // same shape as every other source's batches, so the meter's loop stays monomorphic.
      const at = this.layouts[i]!;
      this.taken = { handle: this.handles[i]!, buffer: taken };
      const head = new Uint32Array(taken, 0, 2);
      const count = head[at.countAt >> 2]!;
      const coalesced = this.options.coalesce ?? false;
      return {
        count,
        data: Buffer.from(taken, at.dataAt, head[at.usedAt >> 2]!),
        offset: new Uint32Array(taken, at.offsetAt, count),
        capturedLength: new Uint32Array(taken, at.capturedAt, count),
        wireLength: new Uint32Array(taken, at.wireAt, count),
        timestamp: new Float64Array(taken, at.timestampAt, count),
        packets: coalesced ? new Uint32Array(taken, at.packetsAt, count) : null,
        lastTimestamp: coalesced ? new Float64Array(taken, at.lastTimestampAt, count) : null,
        interfaceIndex: new Uint16Array(taken, at.interfaceAt, count),
        interfaces: this.ifaces,
      };
    }
    return undefined;
  }

  private allEnded(): boolean {
    return this.phases.every((p) => p === 'failed' || p === 'closed');
  }

  private onWake(index: number, phaseCode: number): void {
    const previous = this.phases[index]!;
    if (PHASES[phaseCode] === previous) {
      // Only batches are waiting: no status to read (that allocates, and this runs per batch).
      this.signal();
      return;
    }
    const status = this.handles[index]!.status();
    this.phases[index] = status.phase;
    if (previous === 'opening' && status.phase !== 'opening' && status.linkType >= 0) {
      this.ifaces[index]!.linkType = status.linkType;
    }
    if (status.phase === 'failed' && previous !== 'failed') {
      this.failure ??= this.errorOf(this.ifaces[index]!.name, status, previous === 'opening');
      this.rejectOpened(this.failure);
      // One device failing ends the source, as it would a capture of one device.
      for (const [i, handle] of this.handles.entries()) {
        if (i !== index && (this.phases[i] === 'opening' || this.phases[i] === 'running')) handle.close();
      }
    }
    if (this.phases.every((p) => p === 'running')) this.resolveOpened();
    if (this.allEnded()) {
      this.rejectOpened(this.failure ?? new CaptureDeviceError(this.options.devices.join(','), 'capture closed before it started'));
      this.resolveEnded();
    }
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private errorOf(device: string, status: NativeStatus, opening: boolean): Error {
    const { filter, sysRoot } = this.options;
    return captureFailure(device, { code: status.errorCode, message: status.error ?? 'unknown error', opening, ...(filter ? { filter } : {}), ...(sysRoot ? { sysRoot } : {}) });
  }
}

function loadAddon(): CaptureAddon | undefined {
  if (addonTried) return addon;
  addonTried = true;
  const result = loadNativeAddon();
  if ('error' in result) addonError = result.error;
  else if (typeof result.addon.LiveCapture !== 'function') addonError = new Error('the addon has no LiveCapture (built from older sources: run npm rebuild)');
  else addon = result.addon as unknown as CaptureAddon;
  return addon;
}
