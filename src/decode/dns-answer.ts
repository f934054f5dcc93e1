// The addresses a DNS (or mDNS) response names, and the name each was asked for: the
// question's name wins over the CNAME chain's last name (a program asked for
// api.example.com, not for the CDN edge it is an alias of). Pure, never throws: a truncated
// or corrupt message is a reason, so the caller counts it and goes on.

import { formatIpv4, formatIpv6 } from './address.js';

export interface DnsAddressName {
  /** Canonical address text, as the meter formats it (RFC 5952 for IPv6). */
  address: string;
  /** Lower case, dot-separated, without the root's dot; anything but [a-z0-9._-] escaped as \DDD. */
  name: string;
  /** Seconds: the smallest TTL along the chain from the name to the address. */
  ttlSeconds: number;
}

/** What became of one message: answers read, not a response worth reading, or broken. */
export type DnsReadResult = 'answers' | 'notAnswer' | 'malformed';

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
/** A name has at most 255 bytes on the wire; a chain of pointers longer than this loops. */
const MAX_NAME_BYTES = 255;
const MAX_POINTERS = 32;
/** CNAME chains longer than this are a loop or an attack; real ones have a handful. */
const MAX_CHAIN = 16;

/** A name read off the wire, and where the record goes on after it (-1: broken). */
interface NameAt {
  name: string;
  next: number;
}

const BROKEN: NameAt = { name: '', next: -1 };

/**
 * Reads the (possibly compressed) name at `at` within the message msg[start, end).
 * Pointers are offsets from `start`; each must land inside the message, and at most
 * MAX_POINTERS are followed, so a pointer loop ends as malformed.
 */
function readName(msg: Uint8Array, start: number, end: number, at: number): NameAt {
  const labels: string[] = [];
  let pos = at;
  let next = -1;
  let pointers = 0;
  let bytes = 1;
  for (;;) {
    if (pos >= end) return BROKEN;
    const length = msg[pos]!;
    if (length === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end || ++pointers > MAX_POINTERS) return BROKEN;
      if (next < 0) next = pos + 2;
      pos = start + (((length & 0x3f) << 8) | msg[pos + 1]!);
      continue;
    }
    if (kind !== 0) return BROKEN; // 0x40 and 0x80 label types are obsolete or unassigned
    bytes += length + 1;
    if (bytes > MAX_NAME_BYTES || pos + 1 + length > end) return BROKEN;
    labels.push(labelText(msg, pos + 1, pos + 1 + length));
    pos += 1 + length;
  }
  return { name: labels.join('.'), next };
}

/** A label as safe text: the screen and JSON get no control characters from the wire. */
function labelText(msg: Uint8Array, from: number, to: number): string {
  let text = '';
  for (let i = from; i < to; i++) {
    let c = msg[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20; // DNS names compare case-insensitively (RFC 4343)
    const plain = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    text += plain ? String.fromCharCode(c) : `\\${String(c).padStart(3, '0')}`;
  }
  return text;
}

/**
 * Appends to `out` every A and AAAA answer of the response in msg[start, end) with the name
 * it answers: the question's name when the chain of CNAMEs from it leads to the record,
 * else the record's own name (mDNS announcements have no question).
 */
export function readDnsAnswers(msg: Uint8Array, start: number, end: number, out: DnsAddressName[]): DnsReadResult {
  if (end - start < 12) return 'malformed';
  const flags = (msg[start + 2]! << 8) | msg[start + 3]!;
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  const rcode = flags & 0xf;
  if (!isResponse || opcode !== 0 || rcode !== 0) return 'notAnswer';
  const questions = (msg[start + 4]! << 8) | msg[start + 5]!;
  const answers = (msg[start + 6]! << 8) | msg[start + 7]!;
  let pos = start + 12;
  let asked: string | undefined;
  for (let q = 0; q < questions; q++) {
    const name = readName(msg, start, end, pos);
    if (name.next < 0 || name.next + 4 > end) return 'malformed';
    asked ??= name.name;
    pos = name.next + 4;
  }
  /** CNAME target → [owner, ttl]: walked backwards from an address to the name asked. */
  const aliasOf = new Map<string, { owner: string; ttl: number }>();
  const found: DnsAddressName[] = [];
  for (let a = 0; a < answers; a++) {
    const owner = readName(msg, start, end, pos);
    if (owner.next < 0 || owner.next + 10 > end) return 'malformed';
    const at = owner.next;
    const type = (msg[at]! << 8) | msg[at + 1]!;
    const klass = ((msg[at + 2]! << 8) | msg[at + 3]!) & 0x7fff; // mDNS: top bit is cache-flush
    const ttl = ((msg[at + 4]! << 24) | (msg[at + 5]! << 16) | (msg[at + 6]! << 8) | msg[at + 7]!) >>> 0;
    const length = (msg[at + 8]! << 8) | msg[at + 9]!;
    const data = at + 10;
    if (data + length > end) return 'malformed';
    pos = data + length;
    if (klass !== CLASS_IN) continue;
    if (type === TYPE_A && length === 4) found.push({ address: formatIpv4(msg, data), name: owner.name, ttlSeconds: ttl });
    else if (type === TYPE_AAAA && length === 16) found.push({ address: formatIpv6(msg, data), name: owner.name, ttlSeconds: ttl });
    else if (type === TYPE_CNAME) {
      const target = readName(msg, start, end, data);
      if (target.next < 0 || target.next > pos) return 'malformed';
      aliasOf.set(target.name, { owner: owner.name, ttl });
    }
  }
  for (const record of found) {
    let name = record.name;
    let ttl = record.ttlSeconds;
    for (let step = 0; step < MAX_CHAIN && name !== asked; step++) {
      const alias = aliasOf.get(name);
      if (!alias) break;
      name = alias.owner;
      ttl = Math.min(ttl, alias.ttl);
    }
    // A record the chain does not tie to the question keeps its own name; the root names nothing.
    if (name === asked && name !== '') out.push({ address: record.address, name, ttlSeconds: ttl });
    else if (record.name !== '') out.push(record);
  }
  return 'answers';
}
