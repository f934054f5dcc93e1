// The `cap` engine's capture process: opens each device with the `cap` binding, gathers
// packets into batches and writes them to fd 3 for cap-source.ts. cap's binding asserts
// on the poll status and so aborts its whole process when a device goes down — this one,
// not netmeter's; the parent turns the death into an error (see cap-source.ts).

import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { wireLengthFromHeaders } from '../decode/wire-length.js';
import { LinkType } from './packet-batch.js';
import { BATCH_HEADER, CHILD_FLAG, FRAME_BATCH, FRAME_ERROR, FRAME_HEADER, FRAME_OPENED, PACKET_META, type ChildConfig, type OpenFailure } from './cap-child-protocol.js';

const BATCH_PACKETS = 4096;
/** Bytes the child lets pile up unsent before it drops whole batches (and counts them). */
const MAX_CHILD_BACKLOG_BYTES = 64 * 1024 * 1024;
/** A moment for packets already in the kernel ring, captured before close(), to arrive. */
const STOP_LINGER_MS = 20;

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
  const linkTypes: number[] = [];
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
    linkTypes.push(linkType);
  }
  send(FRAME_OPENED, [Buffer.from(JSON.stringify(linkTypes))]);

  const timer = setInterval(flush, config.flushMs);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
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