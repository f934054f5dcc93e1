// Parses the text of /proc/net/{tcp,tcp6,udp,udp6} into SocketEntry rows with canonical
// address text; a line that does not read as a socket row is a ProcParseError, never skipped.

import { endianness } from 'node:os';
import { formatIpv4, formatIpv6 } from '../../decode/address.js';
import type { Protocol, SocketEntry } from '../types.js';
import { NetmeterError } from '../../errors.js';

export type ByteOrder = 'LE' | 'BE';

/** A /proc file that does not have the shape the kernel writes; names the file and line. */
export class ProcParseError extends NetmeterError {
  override readonly name = 'ProcParseError';
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file} line ${line}: ${detail}`);
  }
}

const ADDRESS = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/;
const HEX = /^[0-9A-Fa-f]+$/;
const DECIMAL = /^[0-9]+$/;

/**
 * The rows of one socket table. The kernel prints each 32-bit word of an address as a
 * number in the host's byte order (`%08X` of the raw word), so the same bytes read
 * differently on little- and big-endian hosts: byteOrder is the order of the host that
 * wrote the text, this host's by default.
 */
export function parseNetSockets(
  text: string,
  protocol: Protocol,
  file: string,
  byteOrder: ByteOrder = endianness(),
): SocketEntry[] {
  const rows: SocketEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // The header starts with "sl"; checking it rather than dropping line 1 blindly means a
    // file without one loses no row.
    if (line === '' || (i === 0 && line.startsWith('sl'))) continue;
    rows.push(parseRow(line, protocol, file, i + 1, byteOrder));
  }
  return rows;
}

// Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
function parseRow(line: string, protocol: Protocol, file: string, lineNo: number, byteOrder: ByteOrder): SocketEntry {
  const fail = (detail: string): never => {
    throw new ProcParseError(file, lineNo, detail);
  };
  const f = line.split(/\s+/);
  if (f.length < 10) fail(`expected at least 10 fields, found ${f.length}`);
  if (!/^[0-9]+:$/.test(f[0]!)) fail(`bad slot '${f[0]}'`);
  const local = parseEndpoint(f[1]!, byteOrder) ?? fail(`bad address '${f[1]}'`);
  const remote = parseEndpoint(f[2]!, byteOrder) ?? fail(`bad address '${f[2]}'`);
  if (local.v6 !== remote.v6) fail(`local '${f[1]}' and remote '${f[2]}' are of different families`);
  const st = f[3]!;
  if (!HEX.test(st) || st.length > 2) fail(`bad state '${st}'`);
  const uid = f[7]!;
  if (!DECIMAL.test(uid)) fail(`bad uid '${uid}'`);
  const inode = f[9]!;
  if (!DECIMAL.test(inode) || !Number.isSafeInteger(Number(inode))) fail(`bad inode '${inode}'`);
  return {
    protocol,
    localAddress: local.address,
    localPort: local.port,
    remoteAddress: remote.address,
    remotePort: remote.port,
    inode: Number(inode),
    uid: Number(uid),
    state: parseInt(st, 16),
  };
}

function parseEndpoint(text: string, byteOrder: ByteOrder): { address: string; port: number; v6: boolean } | undefined {
  const match = ADDRESS.exec(text);
  if (match === null) return undefined;
  const hex = match[1]!;
  const bytes = new Uint8Array(hex.length / 2);
  const view = new DataView(bytes.buffer);
  for (let word = 0; word < bytes.length / 4; word++) {
    view.setUint32(word * 4, parseInt(hex.slice(word * 8, word * 8 + 8), 16), byteOrder === 'LE');
  }
  const v6 = bytes.length === 16;
  // Ports are already converted to host order by the kernel (ntohs), so they read as is.
  return { address: v6 ? formatIpv6(bytes, 0) : formatIpv4(bytes, 0), port: parseInt(match[2]!, 16), v6 };
}
