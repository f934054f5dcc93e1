// Live capture through the `cap` addon (libpcap). cap's binding asserts on the poll status
// and so aborts the whole process when a device it captures on goes down; the capture
// therefore runs in a child process (cap-capture-process.ts) that this module starts, and
// turns the child's death into an error that ends the source. A side benefit:
// cap's one-JavaScript-call-per-packet work runs on another core, away from the meter and
// the UI, so their pauses do not overflow the kernel ring.

import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CaptureDeviceError } from './capture-interfaces.js';
import { captureFailure, checkCaptureDevice, failureCodeOf } from './capture-failure.js';
import { BATCH_HEADER, CHILD_FLAG, FRAME_BATCH, FRAME_ERROR, FRAME_OPENED, FrameReader, PACKET_META, type ChildConfig, type OpenFailure } from './cap-child-protocol.js';
import type { CaptureInterface, PacketBatch, PacketSource } from './packet-batch.js';

export { CaptureDeviceError } from './capture-interfaces.js';

export interface CapLiveSourceOptions {
  devices: string[];
  /** A BPF filter (tcpdump syntax) applied in the kernel. */
  filter?: string;
  /** Bytes kept of each packet (at most 65535, the snap length cap always asks libpcap for). */
  snapLength?: number;
  /** Kernel ring size per device; see DEFAULT_BUFFER_BYTES. */
  bufferBytes?: number;
  /** Longest wait before captured packets are handed on. */
  flushMs?: number;
  sysRoot?: string;
}

/** cap hard-codes pcap_set_snaplen(65535). */
const CAP_SNAP_LENGTH = 65535;
/**
 * cap turns on immediate mode, so libpcap uses a TPACKET_V2 ring whose frames are sized for
 * the 65535-byte snap length, one per 128 KiB block: asking for B bytes pins 2B of kernel
 * memory and queues B / 64 KiB packets of any size. 32 MiB queues 512 — 10 ms at 50,000
 * packets/s — on a real interface; on lo each packet takes two frames (libpcap drops the
 * outgoing copy only after reading it). Measured on lo at 50,000 packets/s: 2 MiB (tcpdump's
 * default) kept 40%, 16 MiB 83%, 32 MiB 93-99%, 64 MiB 100%.
 */
const DEFAULT_BUFFER_BYTES = 32 * 1024 * 1024;
const DEFAULT_FLUSH_MS = 100;
/** Batches waiting for the consumer before the parent stops reading from the child. */
const MAX_QUEUED_BATCHES = 64;
const CHILD_STOP_GRACE_MS = 3000;

/** A live capture on one or more devices, each one CaptureInterface. */
export class CapLiveSource implements PacketSource {
  readonly kind = 'live' as const;
  private readonly ifaces: CaptureInterface[];
  private readonly child: ChildProcess;
  private readonly opened: Promise<void>;
  private readonly exited: Promise<void>;
  private readonly queue: PacketBatch[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private finished = false;
  private closing = false;
  private dropped = 0;
  private readonly stderrTail: string[] = [];

  /**
   * Starts capturing. A device that does not exist throws CaptureDeviceError here; problems
   * opening a device (privileges, a bad filter, a device that is down) reject `ready()`.
   */
  constructor(options: CapLiveSourceOptions) {
    if (options.devices.length === 0) throw new CaptureDeviceError('', 'no interface to capture on');
    const sysRoot = options.sysRoot ?? '/sys/class/net';
    // Checked here, not left to libpcap, because cap prints a warning to stderr for a
    // missing device before failing.
    for (const device of options.devices) checkCaptureDevice(device, sysRoot);
    this.ifaces = options.devices.map((name) => ({ name, linkType: -1 }));
    const config: ChildConfig = {
      devices: options.devices,
      filter: options.filter ?? '',
      snapLength: Math.max(1, Math.min(options.snapLength ?? CAP_SNAP_LENGTH, CAP_SNAP_LENGTH)),
      bufferBytes: options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      flushMs: options.flushMs ?? DEFAULT_FLUSH_MS,
    };
    // The shell only turns off core dumps, so a device going down does not leave a core file.
    this.child = spawn('/bin/sh', ['-c', 'ulimit -c 0 2>/dev/null; exec "$0" "$@"', process.execPath, fileURLToPath(new URL('./cap-capture-process.js', import.meta.url)), CHILD_FLAG, JSON.stringify(config)], {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
    });
    const data = this.child.stdio[3] as Socket;
    this.child.stdin!.on('error', () => undefined); // EPIPE when the child already died: its exit says why
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => this.keepStderr(text));

    let openedResolve!: () => void;
    let openedReject!: (error: Error) => void;
    this.opened = new Promise<void>((resolve, reject) => {
      openedResolve = resolve;
      openedReject = reject;
    });
    this.opened.catch(() => undefined); // observed through ready() and batches()

    const frames = new FrameReader();
    data.on('data', (chunk: Buffer) => {
      for (const frame of frames.push(chunk)) {
        if (frame.type === FRAME_OPENED) {
          const linkTypes = JSON.parse(frame.payload.toString('utf8')) as number[];
          linkTypes.forEach((linkType, i) => (this.ifaces[i]!.linkType = linkType));
          openedResolve();
        } else if (frame.type === FRAME_ERROR) {
          const failure = JSON.parse(frame.payload.toString('utf8')) as OpenFailure;
          this.failure ??= captureFailure(failure.device, { code: failureCodeOf(failure.message, config.filter), message: failure.message, opening: true, filter: config.filter });
          openedReject(this.failure);
        } else if (frame.type === FRAME_BATCH) {
          this.queue.push(this.decodeBatch(frame.payload));
          if (this.queue.length >= MAX_QUEUED_BATCHES && !this.closing) data.pause();
        }
      }
      this.signal();
    });
    data.on('error', () => undefined); // the child's exit reports what went wrong

    this.exited = new Promise<void>((resolve) => {
      this.child.on('error', (error) => {
        this.failure ??= new CaptureDeviceError(options.devices.join(','), `cannot start the capture process: ${error.message}`);
        openedReject(this.failure);
        this.finished = true;
        this.signal();
        resolve();
      });
      this.child.on('close', (code, signal) => {
        if (!this.closing || code !== 0) {
          this.failure ??= this.explainExit(options.devices, sysRoot, code, signal);
        }
        openedReject(this.failure ?? new CaptureDeviceError(options.devices.join(','), 'capture closed before it started'));
        this.finished = true;
        this.signal();
        resolve();
      });
    });
  }

  /** A source whose devices are all open and capturing. */
  static async open(options: CapLiveSourceOptions): Promise<CapLiveSource> {
    const source = new CapLiveSource(options);
    try {
      await source.ready();
    } catch (error) {
      await source.close().catch(() => undefined);
      throw error;
    }
    return source;
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
    return this.dropped;
  }

  /** Batches until close() (after the last packets are flushed) or until the capture fails. */
  async *batches(): AsyncGenerator<PacketBatch> {
    await this.opened;
    try {
      for (;;) {
        const batch = this.queue.shift();
        if (batch) {
          if (this.queue.length < MAX_QUEUED_BATCHES / 2) (this.child.stdio[3] as Socket).resume();
          yield batch;
          continue;
        }
        if (this.finished) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      // A consumer that stops iterating is done with the capture.
      if (!this.finished) await this.close();
    }
  }

  /** Stops capturing; batches() yields what was captured up to now, then ends. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      (this.child.stdio[3] as Socket).resume(); // the child cannot finish while its output is held back
      this.child.stdin!.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), CHILD_STOP_GRACE_MS);
      timer.unref();
      void this.exited.then(() => clearTimeout(timer));
    }
    await this.exited;
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private keepStderr(text: string): void {
    for (const line of text.split('\n')) {
      // cap warns on every device without an IPv4 address; it is harmless.
      if (line.trim() === '' || line.includes('This may not actually work')) continue;
      this.stderrTail.push(line.trim());
      if (this.stderrTail.length > 5) this.stderrTail.shift();
    }
  }

  private explainExit(devices: string[], sysRoot: string, code: number | null, signal: string | null): Error {
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const detail = this.stderrTail.at(-1);
    const message = `the capture process ended (${how})${detail ? `: ${detail}` : ''}`;
    // A device that went away or down is the likelier story than the process's own words.
    for (const device of devices) {
      const failure = captureFailure(device, { message, opening: false, sysRoot });
      if (!failure.message.endsWith(message)) return failure;
    }
    return new CaptureDeviceError(devices.join(','), `capture on ${devices.join(', ')} stopped: ${message}`);
  }

  private decodeBatch(payload: Buffer): PacketBatch {
    const count = payload.readUInt32LE(0);
    this.dropped += payload.readUInt32LE(4);
    const dataStart = BATCH_HEADER + count * PACKET_META;
    const batch: PacketBatch = {
      count,
      data: payload.subarray(dataStart),
      offset: new Uint32Array(count),
      capturedLength: new Uint32Array(count),
      wireLength: new Uint32Array(count),
      timestamp: new Float64Array(count),
      packets: null,
      lastTimestamp: null,
      interfaceIndex: new Uint16Array(count),
      interfaces: this.ifaces,
    };
    let offset = 0;
    for (let i = 0, at = BATCH_HEADER; i < count; i++, at += PACKET_META) {
      const captured = payload.readUInt32LE(at);
      batch.offset[i] = offset;
      batch.capturedLength[i] = captured;
      batch.wireLength[i] = payload.readUInt32LE(at + 4);
      batch.timestamp[i] = payload.readDoubleLE(at + 8);
      batch.interfaceIndex[i] = payload.readUInt16LE(at + 16);
      offset += captured;
    }
    return batch;
  }
}
