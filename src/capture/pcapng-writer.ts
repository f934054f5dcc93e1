// Writes what a source captured to a pcapng file (little-endian, microsecond timestamps):
// one section, an interface description per capture interface as it first appears, an
// enhanced packet block per packet, and custom blocks carrying netmeter's own JSON.

import { createWriteStream, type WriteStream } from 'node:fs';
import type { CaptureInterface, PacketBatch } from './packet-batch.js';
import { NETMETER_PEN } from './pcapng-file.js';

const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
const BLOCK_INTERFACE = 1;
const BLOCK_ENHANCED_PACKET = 6;
/** A custom block that tools may copy when they rewrite the file (0x40000BAD would forbid it). */
const BLOCK_CUSTOM_COPIABLE = 0x00000bad;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPTION_END = 0;
const OPTION_SHB_USERAPPL = 4;
const OPTION_IF_NAME = 2;
/** libpcap's MAXIMUM_SNAPLEN: what tcpdump writes, and no packet a source yields is longer. */
const DEFAULT_SNAP_LENGTH = 262144;
const TWO_TO_32 = 4294967296;

export interface PcapngWriterOptions {
  /** Snap length written in every interface description. */
  snapLength?: number;
  /** Written as the section's shb_userappl option. */
  application?: string;
}

const pad4 = (n: number) => (n + 3) & ~3;

export class PcapngWriter {
  private readonly stream: WriteStream;
  private readonly snapLength: number;
  /** Interface description id of each (name, link type) written so far. */
  private readonly interfaceIds = new Map<string, number>();
  /** Descriptions of interfaces first met in the batch being written; they go before its packets. */
  private readonly pendingDescriptions: Buffer[] = [];
  private failure: Error | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    options: PcapngWriterOptions = {},
  ) {
    this.snapLength = options.snapLength ?? DEFAULT_SNAP_LENGTH;
    this.stream = createWriteStream(path);
    // Kept and rethrown by the next call, so a full disk surfaces where the caller awaits.
    this.stream.on('error', (error) => {
      this.failure ??= error;
    });
    this.stream.write(sectionHeader(options.application ?? 'netmeter'));
  }

  /** Appends every packet of the batch; resolves once the stream can take more. */
  async write(batch: PacketBatch): Promise<void> {
    this.checkUsable();
    // Coalesced entries stand for packets whose bytes are gone: a capture to write is opened uncoalesced.
    if (batch.packets !== null) throw new Error('PcapngWriter.write: the batch has coalesced packets');
    const ids = batch.interfaces.map((iface) => this.interfaceId(iface));
    let size = 0;
    for (let i = 0; i < batch.count; i++) size += 32 + pad4(batch.capturedLength[i]!);
    const out = Buffer.alloc(size + this.pendingDescriptions.reduce((n, b) => n + b.length, 0));
    let pos = 0;
    for (const description of this.pendingDescriptions.splice(0)) pos += description.copy(out, pos);
    for (let i = 0; i < batch.count; i++) {
      const captured = batch.capturedLength[i]!;
      const length = 32 + pad4(captured);
      const micros = Math.round(batch.timestamp[i]! * 1e6);
      const high = Math.floor(micros / TWO_TO_32);
      out.writeUInt32LE(BLOCK_ENHANCED_PACKET, pos);
      out.writeUInt32LE(length, pos + 4);
      out.writeUInt32LE(ids[batch.interfaceIndex[i]!]!, pos + 8);
      out.writeUInt32LE(high, pos + 12);
      out.writeUInt32LE(micros - high * TWO_TO_32, pos + 16);
      out.writeUInt32LE(captured, pos + 20);
      out.writeUInt32LE(batch.wireLength[i]!, pos + 24);
      const start = batch.offset[i]!;
      batch.data.copy(out, pos + 28, start, start + captured);
      // Padding stays zero: Buffer.alloc zero-filled it.
      out.writeUInt32LE(length, pos + length - 4);
      pos += length;
    }
    await this.push(out);
  }

  /**
   * Appends a custom block holding `json` as UTF-8 after the enterprise number. The data
   * carries no length of its own, so readers strip the zero padding (at most 3 NULs)
   * before parsing.
   */
  async writeAttachment(json: string): Promise<void> {
    this.checkUsable();
    const text = Buffer.from(json, 'utf8');
    const length = 16 + pad4(text.length);
    const block = Buffer.alloc(length);
    block.writeUInt32LE(BLOCK_CUSTOM_COPIABLE, 0);
    block.writeUInt32LE(length, 4);
    block.writeUInt32LE(NETMETER_PEN, 8);
    text.copy(block, 12);
    block.writeUInt32LE(length, length - 4);
    await this.push(block);
  }

  /** Flushes everything written and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.failure && !this.stream.destroyed) {
      this.stream.end();
      await finishOrClose(this.stream);
    }
    if (!this.stream.destroyed) this.stream.destroy();
    if (this.failure) throw this.failure;
  }

  private interfaceId(iface: CaptureInterface): number {
    const key = `${iface.linkType}\0${iface.name}`;
    let id = this.interfaceIds.get(key);
    if (id === undefined) {
      id = this.interfaceIds.size;
      this.interfaceIds.set(key, id);
      this.pendingDescriptions.push(interfaceDescription(iface, this.snapLength));
    }
    return id;
  }

  private checkUsable(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`${this.path}: pcapng writer is closed`);
  }

  private async push(bytes: Buffer): Promise<void> {
    if (!this.stream.write(bytes)) await drainOrClose(this.stream);
    if (this.failure) throw this.failure;
  }
}

/** Waits for room in the stream; a stream that failed closes instead, and the caller checks why. */
function drainOrClose(stream: WriteStream): Promise<void> {
  return settleOn(stream, 'drain');
}

function finishOrClose(stream: WriteStream): Promise<void> {
  return settleOn(stream, 'finish');
}

function settleOn(stream: WriteStream, event: 'drain' | 'finish'): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off(event, done);
      stream.off('close', done);
      resolve();
    };
    stream.on(event, done);
    stream.on('close', done);
  });
}

function sectionHeader(application: string): Buffer {
  const options = [option(OPTION_SHB_USERAPPL, Buffer.from(application, 'utf8')), option(OPTION_END, Buffer.alloc(0))];
  const body = Buffer.alloc(16);
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  body.writeUInt16LE(1, 4); // major version
  body.writeUInt16LE(0, 6); // minor version
  body.writeBigInt64LE(-1n, 8); // section length not given: the file is written as a stream
  return block(BLOCK_SECTION_HEADER, [body, ...options]);
}

function interfaceDescription(iface: CaptureInterface, snapLength: number): Buffer {
  const body = Buffer.alloc(8);
  // An unknown link type (-1) is written as 0xFFFF, which no reader mistakes for a real one.
  body.writeUInt16LE(iface.linkType >= 0 && iface.linkType <= 0xffff ? iface.linkType : 0xffff, 0);
  body.writeUInt32LE(snapLength, 4);
  const options = [option(OPTION_IF_NAME, Buffer.from(iface.name, 'utf8')), option(OPTION_END, Buffer.alloc(0))];
  return block(BLOCK_INTERFACE, [body, ...options]);
}

function option(code: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + pad4(value.length));
  out.writeUInt16LE(code, 0);
  out.writeUInt16LE(value.length, 2);
  value.copy(out, 4);
  return out;
}

function block(type: number, parts: Buffer[]): Buffer {
  const bodyLength = parts.reduce((n, p) => n + p.length, 0);
  const length = 12 + bodyLength;
  const out = Buffer.alloc(length);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(length, 4);
  let pos = 8;
  for (const p of parts) pos += p.copy(out, pos);
  out.writeUInt32LE(length, pos);
  return out;
}
