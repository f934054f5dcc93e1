// uid → user name from /etc/passwd, for whoever needs a name after the process is gone: a
// process that ended before /proc was read leaves only the uid the kernel reported, and
// the history must still file its traffic under "root", not under "0" beside it.

import { readFileSync } from 'node:fs';
import { parsePasswd } from './process-info.js';

/** A user added after the last read is found at the next read, at most this often. */
const REREAD_MS = 60_000;

export class UserNames {
  private names: Map<number, string> | undefined;
  private readAt = -Infinity;

  constructor(
    private readonly passwdPath = '/etc/passwd',
    private readonly now: () => number = Date.now,
  ) {}

  /** The user's name, or undefined when passwd has none (or cannot be read). */
  name(uid: number): string | undefined {
    if (this.names === undefined || (!this.names.has(uid) && this.now() - this.readAt >= REREAD_MS)) this.read();
    return this.names!.get(uid);
  }

  private read(): void {
    this.readAt = this.now();
    try {
      this.names = parsePasswd(readFileSync(this.passwdPath, 'utf8'));
    } catch {
      this.names ??= new Map();
    }
  }
}
