// Random bytes for bodies in both directions: one pool filled once, handed out as slices
// from varying offsets, so no compressor on the path (its window is far smaller than the
// pool) can shrink them, and no request allocates.

import { randomBytes } from 'node:crypto';

export const DEFAULT_POOL_BYTES = 4 << 20;

export class RandomPayload {
  private readonly pool: Buffer;

  constructor(size = DEFAULT_POOL_BYTES) {
    this.pool = randomBytes(size);
  }

  /** `length` bytes (at most half the pool) starting at `offset` modulo the pool. */
  slice(offset: number, length: number): Buffer {
    const n = Math.min(length, this.pool.length >> 1);
    const start = offset % (this.pool.length - n);
    return this.pool.subarray(start, start + n);
  }
}
