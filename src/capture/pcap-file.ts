// Reader for classic libpcap files: both byte orders, microsecond (a1b2c3d4) and
// nanosecond (a1b23c4d) timestamps. pcap-parser (kept as the reference in the tests) has
// no nanosecond format, no byte offsets for errors and buffers without bound on a corrupt
// length, so the pipeline reads the format itself.

import { basename } from 'node:path';
import { CaptureFileError } from './errors.js';
import { FileChunks } from './file-chunks.js';
import { PacketBatchBuilder, type CaptureInterface, type PacketBatch, type PacketSource } from './packet-batch.js';

const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;
/** libpcap's own ceiling on a snapshot length; a larger record length means a corrupt file. */
export const MAX_CAPTURED_LENGTH = 262144;
const BATCH_PACKETS = 4096;

export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;

export class PcapFileSource implements PacketSource {
  readonly kind = 'pcap' as const;
  private readonly ifaces: CaptureInterface[] = [];

  /** `bytes`: the capture's contents when they are already in memory; `path` then only names it. */
  constructor(
    readonly path: string,
    private readonly bytes?: Buffer,
  ) {}

  interfaces(): readonly CaptureInterface[] {
    return this.ifaces;
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    const file = this.bytes ? FileChunks.fromBytes(this.bytes) : await FileChunks.open(this.path);
    const fail = (problem: string, offset: number, packets: number) =>
      new CaptureFileError(this.path, problem, packets, offset);
    const builder = new PacketBatchBuilder(BATCH_PACKETS);
    try {
      await file.fill(FILE_HEADER_BYTES);
      if (file.available < FILE_HEADER_BYTES) throw fail('not a pcap file (shorter than its 24-byte header)', 0, 0);
      const header = file.buffer;
      let littleEndian: boolean;
      const magicLE = header.readUInt32LE(0);
      if (magicLE === PCAP_MAGIC_MICROS || magicLE === PCAP_MAGIC_NANOS) littleEndian = true;
      else if (header.readUInt32BE(0) === PCAP_MAGIC_MICROS || header.readUInt32BE(0) === PCAP_MAGIC_NANOS) littleEndian = false;
      else throw fail('not a pcap file (unknown magic number)', 0, 0);
      const u32 = (at: number) => (littleEndian ? header.readUInt32LE(at) : header.readUInt32BE(at));
      const format: RecordFormat = { littleEndian, fractionPerSecond: u32(0) === PCAP_MAGIC_NANOS ? 1e9 : 1e6 };
      const linkType = u32(20) & 0xffff; // upper bits carry FCS flags, not the type
      this.ifaces.push({ name: basename(this.path), linkType });
      file.position = FILE_HEADER_BYTES;

      let packets = 0;
      for (;;) {
        let needed = RECORD_HEADER_BYTES;
        const buf = file.buffer;
        const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
        let pos = file.position;
        const end = buf.length;
        for (;;) {
          const before = builder.count;
          pos = readRecords(view, pos, end, format, builder);
          packets += builder.count - before;
          if (builder.full) {
            file.position = pos;
            yield builder.take(buf, this.ifaces);
            continue;
          }
          // Stopped short of a whole record: a corrupt length, or the rest is in the next chunk.
          if (pos + RECORD_HEADER_BYTES > end) break;
          const captured = view.getUint32(pos + 8, littleEndian);
          if (captured > MAX_CAPTURED_LENGTH) {
            throw fail(`corrupt packet record (captured length ${captured} exceeds ${MAX_CAPTURED_LENGTH})`, file.bufferStart + pos, packets);
          }
          needed = RECORD_HEADER_BYTES + captured;
          break;
        }
        file.position = pos;
        if (builder.count > 0) yield builder.take(buf, this.ifaces);
        if (file.eof) {
          if (file.available > 0) throw fail('truncated packet record (the file ends mid-packet)', file.fileOffset, packets);
          return;
        }
        await file.fill(needed);
        if (file.eof && file.available < needed && file.available > 0) {
          throw fail('truncated packet record (the file ends mid-packet)', file.fileOffset, packets);
        }
      }
    } catch (error) {
      // Packets parsed before the damage are handed over first, so they are accounted.
      if (builder.count > 0) yield builder.take(file.buffer, this.ifaces);
      throw error;
    } finally {
      await file.close();
    }
  }
}

interface RecordFormat {
  littleEndian: boolean;
  /** Timestamp fraction units per second: 1e6 (microsecond format) or 1e9 (nanosecond). */
  fractionPerSecond: number;
}

/**
 * Adds the whole, sane records in view[pos, end) to the builder until it is full; returns
 * the offset of the first record not added. The caller finds out why it stopped (builder
 * full, a record that continues past `end`, a corrupt length): this loop runs per packet,
 * so it does nothing else.
 */
function readRecords(view: DataView, pos: number, end: number, format: RecordFormat, builder: PacketBatchBuilder): number {
  const { littleEndian, fractionPerSecond } = format;
  while (!builder.full && pos + RECORD_HEADER_BYTES <= end) {
    const captured = view.getUint32(pos + 8, littleEndian);
    if (captured > MAX_CAPTURED_LENGTH || pos + RECORD_HEADER_BYTES + captured > end) break;
    const ts = view.getUint32(pos, littleEndian) + view.getUint32(pos + 4, littleEndian) / fractionPerSecond;
    builder.push(pos + RECORD_HEADER_BYTES, captured, view.getUint32(pos + 12, littleEndian), ts, 0);
    pos += RECORD_HEADER_BYTES + captured;
  }
  return pos;
}
