// Reads files the kernel writes as they are read (/proc, /sys): synchronously, into one
// buffer kept for the next read.
//
// Synchronously, because such a read never waits on a disk, while fs.promises hands each
// file to libuv's thread pool five times (open, stat, read, read, close): on this 2-core VM
// those hand-offs cost ~1 ms of CPU a file, most of what an idle netmeter spent. Into one
// buffer, because these files report a size of 0, so fs.readFile and readFileSync allocate
// 64 KiB for every read (and more for the end-of-file read): with 10,000 processes' stat
// files a second, that was tens of MB of external memory waiting for the garbage collector.
// Live re-reads run on the /proc reader thread (snapshot-worker.ts), where nothing else waits.

import { closeSync, openSync, readSync } from 'node:fs';

/** Grows to the largest file read (a socket table of 100,000 rows: ~15 MB), per thread. */
let buffer = Buffer.allocUnsafe(64 * 1024);

/** The file's text (UTF-8); throws as fs does (ENOENT, ESRCH, EACCES...). */
export function readKernelFile(path: string): string {
  return readKernelBytes(path).toString('utf8');
}

/**
 * The file's bytes, in the shared buffer: valid until the next read on this thread. For a
 * caller that compares them with the last read's before it makes a string of them.
 */
export function readKernelBytes(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    let used = 0;
    for (;;) {
      if (used === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, used);
        buffer = bigger;
      }
      // A seq_file hands out at most a page a read; 0 marks the end.
      const read = readSync(fd, buffer, used, buffer.length - used, null);
      if (read === 0) return buffer.subarray(0, used);
      used += read;
    }
  } finally {
    closeSync(fd);
  }
}
