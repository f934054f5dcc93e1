// Reader for pcapng files: section headers in either byte order, interface descriptions
// (link type, name, timestamp resolution and offset), enhanced, simple and obsolete packet
// blocks. Other blocks are skipped. Each section numbers its interfaces from 0; they are
// mapped onto one list for the whole file.

import { CaptureFileError } from './errors.js';
import { FileChunks } from './file-chunks.js';
import { PacketBatchBuilder, type CaptureInterface, type PacketBatch, type PacketSource } from './packet-batch.js';
import { MAX_CAPTURED_LENGTH } from './pcap-file.js';

const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
const BLOCK_INTERFACE = 1;
const BLOCK_OBSOLETE_PACKET = 2;
const BLOCK_SIMPLE_PACKET = 3;
const BLOCK_ENHANCED_PACKET = 6;
const BLOCK_CUSTOM = 0x00000bad;
const BLOCK_CUSTOM_NOCOPY = 0x40000bad;
/** IANA's example enterprise number (RFC 5612): netmeter's own custom blocks carry it. */
export const NETMETER_PEN = 32473;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** No real block comes near this; a larger length means a corrupt file, not a read of gigabytes. */
const MAX_BLOCK_BYTES = 16 * 1024 * 1024;
const BATCH_PACKETS = 4096;

const OPTION_END = 0;
const OPTION_IF_NAME = 2;
const OPTION_IF_TSRESOL = 9;
const OPTION_IF_TSOFFSET = 14;

interface SectionInterface {
  index: number; // into the file-wide list
  snapLength: number;
  unitsPerSecond: number;
  offsetSeconds: number;
}

export class PcapngFileSource implements PacketSource {
  readonly kind = 'pcapng' as const;
  private readonly ifaces: CaptureInterface[] = [];
  /**
   * Called with the text of each netmeter attachment (the socket snapshot `record` embeds),
   * after every packet before it was handed over and before any packet after it.
   */
  onAttachment: ((text: string) => void) | undefined;

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
    let packets = 0;
    const fail = (problem: string, offset: number) => new CaptureFileError(this.path, problem, packets, offset);
    const builder = new PacketBatchBuilder(BATCH_PACKETS);
    try {
      await file.fill(12);
      if (file.available < 12 || file.buffer.readUInt32LE(0) !== BLOCK_SECTION_HEADER) {
        throw fail('not a pcapng file (no section header block)', 0);
      }
      let littleEndian = true;
      let section: SectionInterface[] = [];

      for (;;) {
        let needed = 12;
        const buf = file.buffer;
        // Readers in the current section's byte order (littleEndian changes at a section header).
        const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
        const u32 = (p: number) => view.getUint32(p, littleEndian);
        const u16 = (p: number) => view.getUint16(p, littleEndian);
        let pos = file.position;
        const end = buf.length;
        while (pos + 12 <= end) {
          const at = file.bufferStart + pos;
          let type = littleEndian ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos);
          if (type === BLOCK_SECTION_HEADER) {
            // The byte order of a new section is read from its own magic, before its length.
            const magic = buf.readUInt32LE(pos + 8);
            if (magic === BYTE_ORDER_MAGIC) littleEndian = true;
            else if (buf.readUInt32BE(pos + 8) === BYTE_ORDER_MAGIC) littleEndian = false;
            else throw fail('corrupt section header (bad byte-order magic)', at);
            type = BLOCK_SECTION_HEADER;
          }
          const length = u32(pos + 4);
          if (length < 12 || length % 4 !== 0 || length > MAX_BLOCK_BYTES) {
            throw fail(`corrupt block (type ${type}, length ${length})`, at);
          }
          if (pos + length > end) {
            needed = length;
            break;
          }
          if (u32(pos + length - 4) !== length) throw fail(`corrupt block (type ${type}, trailing length differs)`, at);
          const body = pos + 8;
          const bodyEnd = pos + length - 4;

          switch (type) {
            case BLOCK_SECTION_HEADER:
              section = [];
              break;
            case BLOCK_INTERFACE: {
              if (bodyEnd - body < 8) throw fail('corrupt interface description block', at);
              const iface: SectionInterface = { index: this.ifaces.length, snapLength: u32(body + 4), unitsPerSecond: 1e6, offsetSeconds: 0 };
              let name = `if${this.ifaces.length}`;
              for (let opt = body + 8; opt + 4 <= bodyEnd; ) {
                const code = u16(opt);
                const optLength = u16(opt + 2);
                const value = opt + 4;
                if (code === OPTION_END || value + optLength > bodyEnd) break;
                if (code === OPTION_IF_NAME) name = buf.toString('utf8', value, value + optLength).replace(/\0+$/, '');
                if (code === OPTION_IF_TSRESOL && optLength >= 1) {
                  const r = buf[value]!;
                  iface.unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
                }
                if (code === OPTION_IF_TSOFFSET && optLength >= 8) {
                  iface.offsetSeconds = Number(littleEndian ? buf.readBigInt64LE(value) : buf.readBigInt64BE(value));
                }
                opt = value + ((optLength + 3) & ~3);
              }
              this.ifaces.push({ name, linkType: u16(body) });
              section.push(iface);
              break;
            }
            case BLOCK_ENHANCED_PACKET:
            case BLOCK_OBSOLETE_PACKET: {
              if (bodyEnd - body < 20) throw fail('corrupt packet block (too short)', at);
              const id = type === BLOCK_ENHANCED_PACKET ? u32(body) : u16(body);
              const iface = section[id];
              if (!iface) throw fail(`packet block names interface ${id}, which the section never described`, at);
              const captured = u32(body + 12);
              if (captured > MAX_CAPTURED_LENGTH || body + 20 + captured > bodyEnd) {
                throw fail(`corrupt packet block (captured length ${captured})`, at);
              }
              const ticks = u32(body + 4) * 4294967296 + u32(body + 8);
              builder.push(body + 20, captured, u32(body + 16), iface.offsetSeconds + ticks / iface.unitsPerSecond, iface.index);
              packets++;
              break;
            }
            case BLOCK_SIMPLE_PACKET: {
              const iface = section[0];
              if (!iface) throw fail('simple packet block before any interface description', at);
              const wire = u32(body);
              const room = bodyEnd - body - 4;
              const captured = Math.min(wire, room, iface.snapLength || room);
              builder.push(body + 4, captured, wire, 0, iface.index);
              packets++;
              break;
            }
            case BLOCK_CUSTOM:
            case BLOCK_CUSTOM_NOCOPY:
              if (bodyEnd - body >= 4 && u32(body) === NETMETER_PEN && this.onAttachment) {
                if (builder.count > 0) {
                  file.position = pos;
                  yield builder.take(buf, this.ifaces);
                }
                this.onAttachment(buf.toString('utf8', body + 4, bodyEnd).replace(/\0+$/, ''));
              }
              break;
            default:
              break; // statistics, name resolution and future blocks carry no packets
          }
          pos += length;
          if (builder.full) {
            file.position = pos;
            yield builder.take(buf, this.ifaces);
          }
        }
        file.position = pos;
        if (builder.count > 0) yield builder.take(buf, this.ifaces);
        if (file.eof) {
          if (file.available > 0) throw fail('truncated block (the file ends mid-block)', file.fileOffset);
          return;
        }
        await file.fill(needed);
        if (file.eof && file.available > 0 && file.available < needed) {
          throw fail('truncated block (the file ends mid-block)', file.fileOffset);
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
