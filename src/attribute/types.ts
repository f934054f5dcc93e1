// The vocabulary of attribution: sockets as the kernel lists them, the processes that hold
// them, and a snapshot of both that a replay can be given instead of a live /proc.

export type Protocol = 'tcp' | 'udp';

/** One row of /proc/net/{tcp,tcp6,udp,udp6}; addresses in canonical text (decode/address.ts). */
export interface SocketEntry {
  protocol: Protocol;
  localAddress: string;
  localPort: number;
  remoteAddress: string; // "0.0.0.0" or "::" when not connected
  remotePort: number; // 0 when not connected
  inode: number; // 0 for sockets in TIME_WAIT and others no process holds
  uid: number;
  state: number; // the kernel's st column (TCP_ESTABLISHED = 1, TCP_LISTEN = 10, UDP connected = 1, unconnected = 7)
}

export interface ProcessInfo {
  pid: number;
  name: string; // /proc/PID/comm
  cmdline: string; // /proc/PID/cmdline, NULs as spaces; "" for kernel threads
  user: string | null; // from the Uid line of /proc/PID/status, via /etc/passwd; null when unknown
  uid: number | null;
  exe?: string; // /proc/PID/exe target when readable
  startTime?: number; // field 22 of /proc/PID/stat (clock ticks since boot): tells a reused PID apart
  /** `--by host`: the subscriber this owner stands for (pid 0; attribute/subscribers.ts). */
  host?: string;
}

/** Sockets and their owners at one moment: what `--sockets FILE` reads and `record` embeds. */
export interface SocketSnapshot {
  version: 1;
  takenAt: number; // seconds since the epoch
  /** Addresses of this host's interfaces, canonical text. */
  localAddresses: string[];
  sockets: SocketEntry[];
  /** Socket inode → PIDs holding it (ascending; a forked child shares its parent's sockets). */
  owners: Array<[inode: number, pids: number[]]>;
  processes: ProcessInfo[];
}
