// Typed errors a user can act on; the CLI turns each into one line and an exit code.

import { NetmeterError } from '../errors.js';

/** A capture file that cannot be read, or stops being readable part-way through. */
export class CaptureFileError extends NetmeterError {
  override name = 'CaptureFileError';
  constructor(
    readonly path: string,
    readonly problem: string,
    /** Packets delivered before the problem; they have been accounted. */
    readonly packetsRead: number,
    /** Byte offset in the file where reading broke. */
    readonly offset: number,
  ) {
    super(offset === 0 && packetsRead === 0 ? `${path}: ${problem}` : `${path}: ${problem} at byte ${offset}, after ${packetsRead} packets`);
  }
}
