// Live capture through the `cap` addon (libpcap). cap's binding asserts on the poll status
// and so aborts the whole process when a device it captures on goes down; the capture
// therefore runs in a child process that this module starts and is also the entry of, and
// the parent turns the child's death into an error that ends the source. A side benefit:
// cap's one-JavaScript-call-per-packet work runs on another core, away from the meter and
// the UI, so their pauses do not overflow the kernel ring.

import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CaptureDeviceError, interfaceExists, interfaceIsUp } from './capture-interfaces.js';
import { LinkType, type CaptureInterface, type PacketBatch, type PacketSource } from './packet-batch.js';
import { PrivilegeError } from './privilege.js';

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
const BATCH_PACKETS = 4096;
/** Batches waiting for the consumer before the parent stops reading from the child. */
const MAX_QUEUED_BATCHES = 64;
/** Bytes the child lets pile up unsent before it drops whole batches (and counts them). */
const MAX_CHILD_BACKLOG_BYTES = 64 * 1024 * 1024;
const CHILD_FLAG = '--netmeter-cap-capture';
const CHILD_STOP_GRACE_MS = 3000;
const STOP_LINGER_MS = 20;

const FRAME_OPENED = 1;
const FRAME_ERROR = 2;
const FRAME_BATCH = 3;
/** Frame: u32 payload length, u8 type, payload. */
const FRAME_HEADER = 5;
/** Batch payload: u32 count, u32 packets dropped before it, then per packet this many bytes. */
const BATCH_HEADER = 8;
const PACKET_META = 20; // u32 captured, u32 wire, f64 timestamp, u16 interface, u16 zero

interface ChildConfig {
  devices: string[];
  filter: string;
  snapLength: number;
  bufferBytes: number;
  flushMs: number;
}

interface OpenFailure {
  device: string;
  message: string;
}

/** The LinkType number of a link type name returned by cap's open(). */
export function capLinkType(name: string): number {
  switch (name) {
    case 'ETHERNET':
      return LinkType.ETHERNET;
    case 'NULL':
      return LinkType.NULL;
    case 'LINKTYPE_LINUX_SLL':
      return LinkType.LINUX_SLL;
    case 'RAW':
      return LinkType.RAW; // DLT_RAW differs by platform; the LINKTYPE is always 101
    case 'IEEE802_11_RADIO':
      return 127; // LINKTYPE_IEEE802_11_RADIOTAP
    default: {
      // "Unknown linktype N" carries the DLT, which equals the LINKTYPE for all but a few
      // old values that cap already names above.
      const dlt = /linktype (\d+)/i.exec(name)?.[1];
      return dlt === undefined ? -1 : Number(dlt);
    }
  }
}

/**
 * The original length of a packet that may have been cut short, read from its IP header.
 * cap reports only the captured length, never pcap_pkthdr.len; libpcap cuts at 65535 and
 * loopback or offloaded packets reach 65549 (65535 of IP plus 14 of Ethernet). Non-IP or
 * damaged packets keep their captured length, a lower bound.
 */
export function wireLengthFromHeaders(bytes: Buffer, start: number, captured: number, linkType: number): number {
  const end = start + captured;
  let ip: number;
  let version: number;
  switch (linkType) {
    case LinkType.ETHERNET: {
      let typeAt = start + 12;
      while (typeAt + 2 <= end && [0x8100, 0x88a8].includes(bytes.readUInt16BE(typeAt))) typeAt += 4; // VLAN tags
      if (typeAt + 2 > end) return captured;
      version = etherTypeVersion(bytes.readUInt16BE(typeAt));
      ip = typeAt + 2;
      break;
    }
    case LinkType.LINUX_SLL:
      if (start + 16 > end) return captured;
      version = etherTypeVersion(bytes.readUInt16BE(start + 14));
      ip = start + 16;
      break;
    case LinkType.LINUX_SLL2:
      if (start + 20 > end) return captured;
      version = etherTypeVersion(bytes.readUInt16BE(start));
      ip = start + 20;
      break;
    case LinkType.RAW:
      if (start >= end) return captured;
      version = bytes[start]! >> 4;
      ip = start;
      break;
    case LinkType.NULL: {
      if (start + 4 > end) return captured;
      const family = bytes.readUInt32LE(start); // host byte order, and Linux hosts here are little-endian
      version = family === 2 ? 4 : [10, 24, 28, 30].includes(family) ? 6 : 0;
      ip = start + 4;
      break;
    }
    default:
      return captured;
  }
  let ipLength = 0;
  if (version === 4 && ip + 4 <= end) ipLength = bytes.readUInt16BE(ip + 2);
  else if (version === 6 && ip + 6 <= end) {
    const payload = bytes.readUInt16BE(ip + 4);
    ipLength = payload === 0 ? 0 : 40 + payload; // 0: a jumbogram, whose length we cannot see
  }
  return ipLength === 0 ? captured : Math.max(captured, ip - start + ipLength);
}

function etherTypeVersion(etherType: number): number {
  return etherType === 0x0800 ? 4 : etherType === 0x86dd ? 6 : 0;
}

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
    for (const device of options.devices) {
      // Checked here, not left to libpcap, because cap prints a warning to stderr for a
      // missing device before failing.
      if (device !== 'any' && !interfaceExists(device, sysRoot)) {
        throw new CaptureDeviceError(device, `no such interface '${device}' (see ip link)`);
      }
    }
    this.ifaces = options.devices.map((name) => ({ name, linkType: -1 }));
    const config: ChildConfig = {
      devices: options.devices,
      filter: options.filter ?? '',
      snapLength: Math.max(1, Math.min(options.snapLength ?? CAP_SNAP_LENGTH, CAP_SNAP_LENGTH)),
      bufferBytes: options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      flushMs: options.flushMs ?? DEFAULT_FLUSH_MS,
    };
    // The shell only turns off core dumps, so a device going down does not leave a core file.
    this.child = spawn('/bin/sh', ['-c', 'ulimit -c 0 2>/dev/null; exec "$0" "$@"', process.execPath, fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(config)], {
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
          const linkTypes = JSON.parse(frame.payload.toString('utf8')) as string[];
          linkTypes.forEach((name, i) => (this.ifaces[i]!.linkType = capLinkType(name)));
          openedResolve();
        } else if (frame.type === FRAME_ERROR) {
          const failure = JSON.parse(frame.payload.toString('utf8')) as OpenFailure;
          this.failure ??= openError(failure.device, failure.message, config.filter);
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
    for (const device of devices) {
      if (device === 'any') continue;
      if (!interfaceExists(device, sysRoot)) return new CaptureDeviceError(device, `capture on '${device}' stopped: the interface was removed`);
      if (!interfaceIsUp(device, sysRoot)) return new CaptureDeviceError(device, `capture on '${device}' stopped: the interface went down`);
    }
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const detail = this.stderrTail.at(-1);
    return new CaptureDeviceError(devices.join(','), `capture on ${devices.join(', ')} stopped: the capture process ended (${how})${detail ? `: ${detail}` : ''}`);
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

/** The typed error for a libpcap open failure, from its message. */
function openError(device: string, message: string, filter: string): Error {
  if (/not permitted|permission|EPERM|EACCES/i.test(message)) return new PrivilegeError(device);
  if (/no such device|doesn't exist|does not exist/i.test(message)) {
    return new CaptureDeviceError(device, `no such interface '${device}' (see ip link)`);
  }
  if (/network is down|not up/i.test(message)) {
    return new CaptureDeviceError(device, `interface '${device}' is down (bring it up with: sudo ip link set ${device} up)`);
  }
  if (filter !== '' && /syntax|filter|parse|illegal|unknown/i.test(message)) {
    return new CaptureDeviceError(device, `bad capture filter '${filter}': ${message}`);
  }
  return new CaptureDeviceError(device, `cannot capture on '${device}': ${message}`);
}

/** Splits the child's output stream back into frames. */
class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  *push(chunk: Buffer): Generator<{ type: number; payload: Buffer }> {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < FRAME_HEADER) return;
      if (this.chunks[0]!.length < FRAME_HEADER) this.merge();
      const length = this.chunks[0]!.readUInt32LE(0);
      if (this.buffered < FRAME_HEADER + length) return;
      if (this.chunks[0]!.length < FRAME_HEADER + length) this.merge();
      const head = this.chunks[0]!;
      const type = head[4]!;
      const payload = head.subarray(FRAME_HEADER, FRAME_HEADER + length);
      const rest = head.subarray(FRAME_HEADER + length);
      this.buffered -= FRAME_HEADER + length;
      if (rest.length > 0) this.chunks[0] = rest;
      else this.chunks.shift();
      yield { type, payload };
    }
  }

  private merge(): void {
    this.chunks = [Buffer.concat(this.chunks)];
  }
}

// ---- The capture process -------------------------------------------------------------

interface CapHandle {
  open(device: string, filter: string, bufferBytes: number, buffer: Buffer): string;
  on(event: 'packet', listener: (capturedBytes: number, truncated: boolean) => void): void;
  setMinBytes?(bytes: number): void;
  close(): boolean;
}

function runCaptureProcess(config: ChildConfig): void {
  const out = new Socket({ fd: 3, readable: false, writable: true });
  out.on('error', () => process.exit(1)); // the parent is gone
  const send = (type: number, payload: Buffer[]) => {
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeUInt32LE(payload.reduce((n, p) => n + p.length, 0), 0);
    header[4] = type;
    out.cork();
    out.write(header);
    for (const part of payload) out.write(part);
    out.uncork();
  };
  const fail = (device: string, message: string) => {
    send(FRAME_ERROR, [Buffer.from(JSON.stringify({ device, message } satisfies OpenFailure))]);
    out.end(() => process.exit(1));
  };

  let Cap: new () => CapHandle;
  try {
    Cap = (createRequire(import.meta.url)('cap') as { Cap: new () => CapHandle }).Cap;
  } catch (error) {
    fail(config.devices.join(','), `the cap capture engine is not built (run: npm rebuild cap): ${(error as Error).message.split('\n')[0]}`);
    return;
  }

  // Wall-clock seconds from the monotonic clock: microsecond resolution, never backwards.
  // cap gives no capture timestamp, so this is the time the packet reached JavaScript.
  const origin = performance.timeOrigin;
  const now = () => (origin + performance.now()) / 1000;

  let data = Buffer.allocUnsafe(1 << 20);
  let used = 0;
  let meta = Buffer.allocUnsafe(BATCH_HEADER + BATCH_PACKETS * PACKET_META);
  let count = 0;
  let droppedSinceSent = 0;

  const flush = () => {
    if (count === 0) return;
    if (out.writableLength > MAX_CHILD_BACKLOG_BYTES) {
      droppedSinceSent += count; // the parent is not keeping up: drop rather than grow without bound
    } else {
      meta.writeUInt32LE(count, 0);
      meta.writeUInt32LE(droppedSinceSent, 4);
      droppedSinceSent = 0;
      send(FRAME_BATCH, [meta.subarray(0, BATCH_HEADER + count * PACKET_META), data.subarray(0, used)]);
      data = Buffer.allocUnsafe(Math.max(1 << 20, used));
      meta = Buffer.allocUnsafe(meta.length);
    }
    used = 0;
    count = 0;
  };

  const caps: CapHandle[] = [];
  const linkTypeNames: string[] = [];
  for (const [index, device] of config.devices.entries()) {
    const cap = new Cap();
    // cap keeps only a raw pointer into this buffer and writes every packet there; the
    // packet handler's reference to it is what keeps the garbage collector from freeing it.
    const buffer = Buffer.alloc(config.snapLength);
    let linkTypeName: string;
    try {
      linkTypeName = cap.open(device, config.filter, config.bufferBytes, buffer);
    } catch (error) {
      for (const opened of caps) opened.close();
      fail(device, (error as Error).message);
      return;
    }
    cap.setMinBytes?.(0);
    const linkType = capLinkType(linkTypeName);
    cap.on('packet', (captured) => {
      if (used + captured > data.length) {
        const grown = Buffer.allocUnsafe(Math.max(data.length * 2, used + captured));
        data.copy(grown, 0, 0, used);
        data = grown;
      }
      buffer.copy(data, used, 0, captured);
      // Only a packet that filled the buffer can have been cut short (by our snap length or
      // libpcap's 65535); every other one was captured whole, so its wire length is its
      // captured length.
      const wire = captured >= config.snapLength ? wireLengthFromHeaders(data, used, captured, linkType) : captured;
      const at = BATCH_HEADER + count * PACKET_META;
      meta.writeUInt32LE(captured, at);
      meta.writeUInt32LE(wire, at + 4);
      meta.writeDoubleLE(now(), at + 8);
      meta.writeUInt32LE(index, at + 16);
      used += captured;
      if (++count === BATCH_PACKETS) flush();
    });
    caps.push(cap);
    linkTypeNames.push(linkTypeName);
  }
  send(FRAME_OPENED, [Buffer.from(JSON.stringify(linkTypeNames))]);

  const timer = setInterval(flush, config.flushMs);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // A moment for packets already in the kernel ring, captured before close(), to arrive.
    setTimeout(() => {
      clearInterval(timer);
      for (const cap of caps) cap.close();
      flush();
      out.end(() => process.exit(0));
    }, STOP_LINGER_MS);
  };
  // The parent ends our stdin to stop us, and it also ends if the parent dies.
  process.stdin.on('end', stop).on('error', stop).resume();
  // Ctrl-C, `timeout` and `systemctl stop` signal the whole process group; only the
  // parent decides when capture ends, so the packets in flight still reach it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
}

if (process.argv[2] === CHILD_FLAG && process.argv[1] === fileURLToPath(import.meta.url)) {
  runCaptureProcess(JSON.parse(process.argv[3]!) as ChildConfig);
}
