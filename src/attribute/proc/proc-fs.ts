// Opens the files under one /proc root (the live /proc or a snapshot directory under
// fixtures/) and hands their text to the parsers; the only module here that touches the disk.
// Also parses the two address files (net/if_inet6, net/fib_trie) behind localAddresses().

import { access, readFile, readlink } from 'node:fs/promises';
import { endianness, networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { canonicalIp, formatIpv4, formatIpv6 } from '../../decode/address.js';
import { readKernelBytes, readKernelFile } from '../../kernel-file.js';
import { loadNativeAddon } from '../../native-addon.js';
import type { ProcessInfo, Protocol, SocketEntry } from '../types.js';
import { type ByteOrder, parseNetSockets, ProcParseError } from './net-sockets.js';
import { parseCmdline, parseComm, parsePasswd, parseStatStartTime, parseStatusUid } from './process-info.js';

const SOCKET_TABLES: Array<[name: string, protocol: Protocol]> = [
  ['tcp', 'tcp'],
  ['tcp6', 'tcp'],
  ['udp', 'udp'],
  ['udp6', 'udp'],
];

const TCP_LISTEN = 10;

export class ProcFs {
  readonly root: string;
  private readonly passwdPath: string | undefined;
  private readonly byteOrder: ByteOrder;
  private users: Promise<Map<number, string>> | undefined;
  /** Each socket table's last bytes and its rows (never changed by their users). */
  private readonly lastTables = new Map<string, { bytes: Buffer; rows: SocketEntry[] }>();

  /**
   * root: a /proc mount or a copy of one. passwdPath: where uids get their names; when not
   * given, /etc/passwd for the live /proc, and for a snapshot directory the first that
   * exists of ROOT/passwd, ROOT/../passwd (a snapshot carries its host's users inside or
   * beside it: fixtures/make-fixtures.sh writes ROOT/passwd) and /etc/passwd.
   * byteOrder: that of the host that wrote the socket tables (see parseNetSockets).
   */
  constructor(root = '/proc', passwdPath?: string, byteOrder: ByteOrder = endianness()) {
    this.root = root;
    this.passwdPath = passwdPath;
    this.byteOrder = byteOrder;
  }

  /**
   * Every row of net/tcp, tcp6, udp, udp6 in that order, or of the given protocols' tables
   * only; a missing table (no IPv6) is empty.
   */
  async readSocketTables(protocols: readonly Protocol[] = ['tcp', 'udp']): Promise<SocketEntry[]> {
    const tables = await Promise.all(
      SOCKET_TABLES.filter(([, protocol]) => protocols.includes(protocol)).map(async ([name, protocol]) => {
        const file = join(this.root, 'net', name);
        const bytes = ifExists(() => readKernelBytes(file));
        if (bytes === undefined) return [];
        // Idle sockets read the same, second after second: keep the rows, rather than make a
        // string of 1.3 MB and 10,000 rows a second (10,000 sockets) for the reader thread's
        // garbage collector.
        const last = this.lastTables.get(file);
        if (last?.bytes.equals(bytes)) return last.rows;
        const rows = parseNetSockets(bytes.toString('utf8'), protocol, file, this.byteOrder);
        this.lastTables.set(file, { bytes: Buffer.from(bytes), rows });
        return rows;
      }),
    );
    return tables.flat();
  }

  /**
   * The TCP sockets in LISTEN, as rows like the tables' (state 10), from the kernel's
   * sock_diag (native/src/tcp_listeners.c): without the scan of every established connection
   * that reading net/tcp costs. Undefined for a snapshot directory, or when the addon or the
   * kernel cannot answer (read the tables then).
   */
  readTcpListeners(): SocketEntry[] | undefined {
    if (resolve(this.root) !== '/proc') return undefined;
    const loaded = loadNativeAddon();
    const tcpListeners = 'error' in loaded ? undefined : (loaded.addon['tcpListeners'] as (() => Array<[number, Buffer, number, number, number]>) | undefined);
    if (!tcpListeners) return undefined;
    let rows: Array<[number, Buffer, number, number, number]>;
    try {
      rows = tcpListeners();
    } catch {
      return undefined;
    }
    return rows.map(([, address, port, inode, uid]) => {
      const v6 = address.length === 16;
      return {
        protocol: 'tcp',
        localAddress: v6 ? formatIpv6(address, 0) : formatIpv4(address, 0),
        localPort: port,
        remoteAddress: v6 ? '::' : '0.0.0.0',
        remotePort: 0,
        inode,
        uid,
        state: TCP_LISTEN,
      };
    });
  }

  /** The process's name, command line and user; undefined when it exited while being read. */
  async readProcess(pid: number): Promise<ProcessInfo | undefined> {
    const dir = join(this.root, String(pid));
    let texts: string[];
    try {
      texts = await Promise.all(['comm', 'cmdline', 'status', 'stat'].map((name) => readFile(join(dir, name), 'utf8')));
    } catch (error) {
      if (isVanished(error)) return undefined;
      throw error;
    }
    const [comm, cmdline, status, stat] = texts as [string, string, string, string];
    const uid = parseStatusUid(status) ?? null;
    const info: ProcessInfo = {
      pid,
      name: parseComm(comm),
      cmdline: parseCmdline(cmdline),
      user: uid === null ? null : ((await this.userNames()).get(uid) ?? null),
      uid,
    };
    // exe is unreadable for other users' processes without CAP_SYS_PTRACE, and absent for
    // kernel threads and from most snapshots: optional, never a reason to fail.
    const exe = await readlink(join(dir, 'exe')).catch(() => undefined);
    if (exe !== undefined) info.exe = exe;
    const startTime = parseStatStartTime(stat);
    if (startTime !== undefined) info.startTime = startTime;
    return info;
  }

  /** The process's start time (stat field 22, clock ticks since boot); undefined when it is gone or has none. */
  async readStartTime(pid: number): Promise<number | undefined> {
    try {
      // Synchronous (kernel-file.ts): the reader thread asks this of every owner it knows.
      return parseStatStartTime(readKernelFile(join(this.root, String(pid), 'stat')));
    } catch (error) {
      if (isVanished(error)) return undefined;
      throw error;
    }
  }

  /**
   * This host's interface addresses, canonical text: IPv4 from net/fib_trie's "/32 host
   * LOCAL" entries, IPv6 from net/if_inet6. Both files exist in a real /proc too, so the same
   * code serves live and snapshot roots; only when one is missing from the live /proc does
   * os.networkInterfaces() stand in for that family (a snapshot must not borrow this host's).
   */
  async localAddresses(): Promise<string[]> {
    const fibFile = join(this.root, 'net', 'fib_trie');
    const inet6File = join(this.root, 'net', 'if_inet6');
    const [fib, inet6] = await Promise.all([readOptional(fibFile), readOptional(inet6File)]);
    const live = resolve(this.root) === '/proc';
    const v4 = fib !== undefined ? parseFibTrieLocal(fib) : live ? interfaceAddresses('IPv4') : [];
    const v6 = inet6 !== undefined ? parseIfInet6(inet6, inet6File) : live ? interfaceAddresses('IPv6') : [];
    return [...new Set([...v4, ...v6])];
  }

  private userNames(): Promise<Map<number, string>> {
    this.users ??= this.findPasswd().then(async (path) => parsePasswd((await readOptional(path)) ?? ''));
    return this.users;
  }

  private async findPasswd(): Promise<string> {
    if (this.passwdPath !== undefined) return this.passwdPath;
    if (resolve(this.root) === '/proc') return '/etc/passwd';
    for (const candidate of [join(this.root, 'passwd'), join(dirname(resolve(this.root)), 'passwd')]) {
      if (await access(candidate).then(() => true, () => false)) return candidate;
    }
    return '/etc/passwd';
  }
}

/** Addresses of net/if_inet6 rows: 32 hex digits in network order, then index, prefix, scope, flags, name. */
export function parseIfInet6(text: string, file: string): string[] {
  const addresses: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const hex = line.split(/\s+/)[0]!;
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new ProcParseError(file, i + 1, `bad address '${hex}'`);
    const bytes = new Uint8Array(16);
    for (let b = 0; b < 16; b++) bytes[b] = parseInt(hex.slice(2 * b, 2 * b + 2), 16);
    addresses.push(formatIpv6(bytes, 0));
  }
  return addresses;
}

/**
 * The host's own IPv4 addresses from net/fib_trie: a leaf line "|-- a.b.c.d" followed by a
 * "/32 host LOCAL" line. The trie is printed per table (Main, Local) so addresses repeat;
 * the result has each once. Lines of other shapes (internal "+--" nodes, broadcast and
 * unicast routes, the "/8 host LOCAL" of 127.0.0.0) are not addresses and are passed over
 * rather than rejected, since the format is informal and varies between kernels.
 */
export function parseFibTrieLocal(text: string): string[] {
  const addresses = new Set<string>();
  let leaf: string | undefined;
  for (const line of text.split('\n')) {
    const leafMatch = /^[\s|]*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (leafMatch !== null) {
      leaf = leafMatch[1];
      continue;
    }
    const route = /^\s*\/(\d+)\s+\S+\s+(\S+)/.exec(line);
    if (route !== null && route[1] === '32' && route[2] === 'LOCAL' && leaf !== undefined) {
      const address = canonicalIp(leaf);
      if (address !== undefined) addresses.add(address);
    }
  }
  return [...addresses];
}

function interfaceAddresses(family: 'IPv4' | 'IPv6'): string[] {
  const out: string[] = [];
  for (const infos of Object.values(networkInterfaces())) {
    for (const info of infos ?? []) {
      const address = info.family === family ? canonicalIp(info.address) : undefined;
      if (address !== undefined) out.push(address);
    }
  }
  return out;
}

// Synchronous: see kernel-file.ts.
function readOptional(path: string): string | undefined {
  return ifExists(() => readKernelFile(path));
}

/** What read() returns, or undefined when it finds no such file. */
function ifExists<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// A process that exits between readdir and read leaves ENOENT (directory gone) or ESRCH
// (files of a dying task); both mean "no such process now", not a failure.
function isVanished(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
}
