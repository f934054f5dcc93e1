// Parses the per-process files ProcessInfo is made from (/proc/PID/comm, cmdline, status,
// stat) and /etc/passwd. Pure functions over text; reading the files is ProcFs's job.
// Fields a process may legitimately lack come back undefined rather than throwing, so one
// odd process (a zombie, a kernel thread) never costs the whole snapshot.

/** The command name: comm is the name plus one newline, and the name itself may hold spaces. */
export function parseComm(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** NUL-separated arguments as one line; "" for kernel threads, whose cmdline is empty. */
export function parseCmdline(text: string): string {
  // Arguments end in NUL; a process that rewrote its argv may leave several, or none.
  return text.replace(/\0+$/, '').replace(/\0/g, ' ');
}

/** The real uid: the first of the four numbers on status's "Uid:" line. */
export function parseStatusUid(text: string): number | undefined {
  const match = /^Uid:\s+(\d+)/m.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Field 22 of /proc/PID/stat, starttime in clock ticks since boot. Field 2 is the comm in
 * parentheses and may itself contain spaces and ')' (a process may name itself "a) b"), so
 * fields are counted from after the last ')': the next token is field 3.
 */
export function parseStatStartTime(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const starttime = fields[22 - 3];
  return starttime !== undefined && /^\d+$/.test(starttime) ? Number(starttime) : undefined;
}

/** uid → user name. The first entry for a uid wins, as getpwuid(3) returns it. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    // name:password:uid:gid:gecos:home:shell; lines without a numeric uid (NIS "+" entries,
    // damage) name no one.
    if (fields.length < 4 || fields[0] === '' || !/^\d+$/.test(fields[2]!)) continue;
    const uid = Number(fields[2]);
    if (!users.has(uid)) users.set(uid, fields[0]!);
  }
  return users;
}
