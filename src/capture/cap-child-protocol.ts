// What the `cap` capture process (cap-capture-process.ts) and its parent (cap-source.ts)
// say to each other over the child's fd 3: frames of a u32 payload length, a u8 type and
// the payload — the open result, an open failure, or a batch of packets.

export const CHILD_FLAG = '--netmeter-cap-capture';

/** What the parent asks the child to capture (JSON on its command line). */
export interface ChildConfig {
  devices: string[];
  filter: string;
  snapLength: number;
  bufferBytes: number;
  flushMs: number;
}

/** FRAME_ERROR's payload (JSON). */
export interface OpenFailure {
  device: string;
  message: string;
}

/** FRAME_OPENED's payload is the JSON list of cap's link type names, one per device. */
export const FRAME_OPENED = 1;
export const FRAME_ERROR = 2;
export const FRAME_BATCH = 3;
/** Frame: u32 payload length, u8 type, payload. */
export const FRAME_HEADER = 5;
/** Batch payload: u32 count, u32 packets dropped before it, then per packet this many bytes. */
export const BATCH_HEADER = 8;
export const PACKET_META = 20; // u32 captured, u32 wire, f64 timestamp, u16 interface, u16 zero

/** Splits the child's output stream back into frames. */
export class FrameReader {
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
