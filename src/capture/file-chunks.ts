// Sequential reading of a capture file in large chunks, so the format parsers can walk
// records synchronously over a buffer and only await between chunks.

import { open, type FileHandle } from 'node:fs/promises';

const CHUNK_BYTES = 4 * 1024 * 1024;

export class FileChunks {
  /** Current window of the file; bytes before `position` have been consumed. */
  buffer: Buffer = Buffer.alloc(0);
  position = 0;
  /** File offset of buffer[0]. */
  bufferStart = 0;
  eof = false;

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
   * The unconsumed tail moves to a fresh buffer, so buffers handed out in earlier
   * batches stay valid.
   */
  async fill(wanted: number): Promise<void> {
    while (!this.eof && this.handle && this.available < wanted) {
      const tail = this.available;
      const next = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, wanted));
      this.buffer.copy(next, 0, this.position);
      const { bytesRead } = await this.handle.read(next, tail, next.length - tail, this.bufferStart + this.buffer.length);
      if (bytesRead === 0) this.eof = true;
      this.bufferStart += this.position;
      this.buffer = next.subarray(0, tail + bytesRead);
      this.position = 0;
    }
  }

  async close(): Promise<void> {
    await this.handle?.close();
  }
}
