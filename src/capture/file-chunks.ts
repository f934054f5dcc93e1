// Sequential reading of a capture file in large chunks, so the format parsers can walk
// records synchronously over a buffer and only await between chunks. The next chunk is
// read while the parser works through the current one, so replay does not wait for the
// disk (or the page cache copy) between chunks.

import { open, type FileHandle } from 'node:fs/promises';

const CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * Room kept in front of each chunk for the unconsumed tail of the one before (a record cut
 * by the chunk's end), so joining them copies the tail only. Larger than any pcap record
 * (256 KiB); a longer tail (a large pcapng block) is joined by a copy of both.
 */
const HEADROOM_BYTES = 512 * 1024;

interface Chunk {
  /** HEADROOM_BYTES of room, then the bytes read. */
  bytes: Buffer;
  bytesRead: number;
}

export class FileChunks {
  /** Current window of the file; bytes before `position` have been consumed. */
  buffer: Buffer = Buffer.alloc(0);
  position = 0;
  /** File offset of buffer[0]. */
  bufferStart = 0;
  eof = false;
  /** The read of the chunk that follows `buffer`, started before it was asked for. */
  private ahead: Promise<Chunk> | undefined;

  private constructor(private readonly handle: FileHandle | undefined) {}

  static async open(path: string): Promise<FileChunks> {
    return new FileChunks(await open(path, 'r'));
  }

  /** A capture already in memory (standard input, tests) read through the same parsers. */
  static fromBytes(bytes: Buffer): FileChunks {
    const chunks = new FileChunks(undefined);
    chunks.buffer = bytes;
    chunks.eof = true;
    return chunks;
  }

  get available(): number {
    return this.buffer.length - this.position;
  }

  /** File offset of the next unconsumed byte. */
  get fileOffset(): number {
    return this.bufferStart + this.position;
  }

  /**
   * Reads on until at least `wanted` unconsumed bytes are buffered or the file ends.
   * Every chunk is a fresh buffer, so buffers handed out in earlier batches stay valid
   * however long their holder keeps them.
   */
  async fill(wanted: number): Promise<void> {
    while (!this.eof && this.handle && this.available < wanted) {
      const chunkAt = this.bufferStart + this.buffer.length;
      const { bytes, bytesRead } = await (this.ahead ?? this.read(chunkAt));
      this.ahead = undefined;
      if (bytesRead === 0) this.eof = true;
      const tail = this.buffer.subarray(this.position);
      let next: Buffer;
      if (tail.length <= HEADROOM_BYTES) {
        const start = HEADROOM_BYTES - tail.length;
        tail.copy(bytes, start);
        next = bytes.subarray(start, HEADROOM_BYTES + bytesRead);
      } else {
        next = Buffer.concat([tail, bytes.subarray(HEADROOM_BYTES, HEADROOM_BYTES + bytesRead)]);
      }
      this.bufferStart += this.position;
      this.buffer = next;
      this.position = 0;
      if (!this.eof) this.ahead = this.read(this.bufferStart + this.buffer.length);
    }
  }

  async close(): Promise<void> {
    // A read still running must end before its file handle closes; its error no longer matters.
    await this.ahead?.catch(() => undefined);
    this.ahead = undefined;
    await this.handle?.close();
  }

  private read(at: number): Promise<Chunk> {
    const bytes = Buffer.allocUnsafe(HEADROOM_BYTES + CHUNK_BYTES);
    const reading = this.handle!.read(bytes, HEADROOM_BYTES, CHUNK_BYTES, at).then(({ bytesRead }) => ({ bytes, bytesRead }));
    // Awaited by the next fill() or by close(); until then a failure must not count as unhandled.
    reading.catch(() => undefined);
    return reading;
  }
}
