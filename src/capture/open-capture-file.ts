// Picks the reader for a capture file by its first four bytes, not its name.

import { open } from 'node:fs/promises';
import { CaptureFileError } from './errors.js';
import type { PacketSource } from './packet-batch.js';
import { PcapFileSource, PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS } from './pcap-file.js';
import { PcapngFileSource } from './pcapng-file.js';

export async function openCaptureFile(path: string): Promise<PacketSource> {
  const head = Buffer.alloc(4);
  let bytesRead: number;
  try {
    const handle = await open(path, 'r');
    try {
      ({ bytesRead } = await handle.read(head, 0, 4, 0));
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String(code ?? error);
    throw new CaptureFileError(path, `cannot open capture file (${why})`, 0, 0);
  }
  // An interrupted capture tool, or output redirected before it wrote anything, leaves a
  // file without even a header: say that, not that its (absent) magic number is unknown.
  if (bytesRead === 0) throw new CaptureFileError(path, 'the file is empty (0 bytes): no capture was written to it', 0, 0);
  if (bytesRead < 4) throw new CaptureFileError(path, `not a pcap or pcapng capture (only ${bytesRead} bytes long)`, 0, 0);
  if (head.readUInt32LE(0) === 0x0a0d0d0a) return new PcapngFileSource(path);
  for (const magic of [PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS]) {
    if (head.readUInt32LE(0) === magic || head.readUInt32BE(0) === magic) return new PcapFileSource(path);
  }
  throw new CaptureFileError(path, 'not a pcap or pcapng capture (unknown magic number)', 0, 0);
}
