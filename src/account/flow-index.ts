// The flow table's index: an open-addressing hash table keyed by the raw 5-tuple words of a
// decoded packet, with both directions of a conversation under one key, mapping each key to
// a small integer id (the meter keeps what it counts per conversation in arrays indexed by
// that id). Looking a packet up builds no string, allocates nothing and touches one slot of
// one typed array, which is what lets replay pass a million packets a second: with
// thousands of flows every memory read outside the cache costs more than decoding.

import type { DecodedPacket } from '../decode/decoded-packet.js';

/** Key words: [protocol/version, address A ×4, address B ×4, port A << 16 | port B]. */
const KEY_WORDS = 10;
/** A slot is the key words and the id stored under them. */
const SLOT_WORDS = KEY_WORDS + 1;
const ID_WORD = KEY_WORDS;
const EMPTY = 0; // word 0 of a used slot is never 0: it holds the protocol

export class FlowIndex {
  private capacity = 1024;
  private slots = new Int32Array(this.capacity * SLOT_WORDS);
  private used = 0;
  /** After a lookup() that found nothing: its key and hash, for insert(). */
  private readonly probe = new Int32Array(KEY_WORDS);
  private probeHash = 0;
  /** After lookup(): whether the packet goes from endpoint A (the one whose key sorts first) to B. */
  fromA = true;

  get size(): number {
    return this.used;
  }

  /**
   * The id of the packet's conversation, or -1; afterwards `fromA` tells its direction and,
   * on -1, insert() can add it. The key's words stay in locals (registers) from the packet
   * to the comparison with a slot: this runs for every packet.
   */
  lookup(p: DecodedPacket): number {
    const v = p.view;
    const s = p.sourceAt;
    const t = p.destinationAt;
    const head = (p.kind << 8) | p.ipVersion;
    // Source and destination address as big-endian words; IPv4 leaves the last three 0.
    const s0 = v.getInt32(s);
    const d0 = v.getInt32(t);
    let s1 = 0, s2 = 0, s3 = 0, d1 = 0, d2 = 0, d3 = 0;
    if (p.ipVersion === 6) {
      s1 = v.getInt32(s + 4);
      s2 = v.getInt32(s + 8);
      s3 = v.getInt32(s + 12);
      d1 = v.getInt32(t + 4);
      d2 = v.getInt32(t + 8);
      d3 = v.getInt32(t + 12);
    }
    // Order the endpoints so both directions share a key: A is the smaller (address, port).
    const order =
      compareWords(s0, d0) || compareWords(s1, d1) || compareWords(s2, d2) || compareWords(s3, d3) || p.sourcePort - p.destinationPort;
    const fromA = order <= 0;
    this.fromA = fromA;
    const a0 = fromA ? s0 : d0, a1 = fromA ? s1 : d1, a2 = fromA ? s2 : d2, a3 = fromA ? s3 : d3;
    const b0 = fromA ? d0 : s0, b1 = fromA ? d1 : s1, b2 = fromA ? d2 : s2, b3 = fromA ? d3 : s3;
    const ports = fromA ? (p.sourcePort << 16) | p.destinationPort : (p.destinationPort << 16) | p.sourcePort;
    const hash = hashWords(head, a0, a1, a2, a3, b0, b1, b2, b3, ports);
    const base = this.findSlot(hash, head, a0, a1, a2, a3, b0, b1, b2, b3, ports) * SLOT_WORDS;
    if (this.slots[base] !== EMPTY) return this.slots[base + ID_WORD]!;
    const k = this.probe;
    k[0] = head;
    k[1] = a0;
    k[2] = a1;
    k[3] = a2;
    k[4] = a3;
    k[5] = b0;
    k[6] = b1;
    k[7] = b2;
    k[8] = b3;
    k[9] = ports;
    this.probeHash = hash;
    return -1;
  }

  /** Stores `id` under the key of the last lookup(), which found none. */
  insert(id: number): void {
    if ((this.used + 1) * 4 > this.capacity * 3) this.resize(this.capacity * 2);
    const base = this.find(this.probe, 0, this.probeHash) * SLOT_WORDS;
    if (this.slots[base] === EMPTY) this.used++;
    this.slots.set(this.probe, base);
    this.slots[base + ID_WORD] = id;
  }

  /** The ids held, in slot order. */
  *ids(): IterableIterator<number> {
    const slots = this.slots;
    for (let base = 0; base < slots.length; base += SLOT_WORDS) if (slots[base] !== EMPTY) yield slots[base + ID_WORD]!;
  }

  /** Keeps only the ids `keep` accepts (the table is rebuilt, so this is for bulk removal). */
  retain(keep: (id: number) => boolean): void {
    this.rebuild(this.capacity, keep);
  }

  private resize(capacity: number): void {
    this.rebuild(capacity, () => true);
  }

  private rebuild(capacity: number, keep: (id: number) => boolean): void {
    const old = this.slots;
    this.capacity = capacity;
    this.slots = new Int32Array(capacity * SLOT_WORDS);
    this.used = 0;
    for (let base = 0; base < old.length; base += SLOT_WORDS) {
      if (old[base] === EMPTY || !keep(old[base + ID_WORD]!)) continue;
      const to = this.find(old, base, hashKey(old, base)) * SLOT_WORDS;
      for (let w = 0; w < SLOT_WORDS; w++) this.slots[to + w] = old[base + w]!;
      this.used++;
    }
  }

  /** findSlot() for the key held in k[at, at + KEY_WORDS). */
  private find(k: Int32Array, at: number, hash: number): number {
    return this.findSlot(hash, k[at]!, k[at + 1]!, k[at + 2]!, k[at + 3]!, k[at + 4]!, k[at + 5]!, k[at + 6]!, k[at + 7]!, k[at + 8]!, k[at + 9]!);
  }

  /** The slot holding the key, or the empty slot where it would go (linear probing). */
  private findSlot(hash: number, k0: number, k1: number, k2: number, k3: number, k4: number, k5: number, k6: number, k7: number, k8: number, k9: number): number {
    const mask = this.capacity - 1;
    const slots = this.slots;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const b = slot * SLOT_WORDS;
      const w0 = slots[b]!;
      if (w0 === EMPTY) return slot;
      // The ports and first address words differ most often: compared first.
      if (w0 === k0 && slots[b + 9] === k9 && slots[b + 1] === k1 && slots[b + 5] === k5 && slots[b + 2] === k2 && slots[b + 3] === k3 &&
          slots[b + 4] === k4 && slots[b + 6] === k6 && slots[b + 7] === k7 && slots[b + 8] === k8) return slot;
    }
  }
}

/** Orders two address words as unsigned numbers: negative, 0 or positive. */
function compareWords(x: number, y: number): number {
  return (x >>> 0) - (y >>> 0);
}

/** hashWords() of the key held in k[at, at + KEY_WORDS). */
function hashKey(k: Int32Array, at: number): number {
  return hashWords(k[at]!, k[at + 1]!, k[at + 2]!, k[at + 3]!, k[at + 4]!, k[at + 5]!, k[at + 6]!, k[at + 7]!, k[at + 8]!, k[at + 9]!);
}

/**
 * Mixes the key words into a slot hash. The final avalanche (murmur3's fmix32) matters: a
 * multiply moves a word's high bits only upward, so without it flows that differ only in
 * a port (the high half of the last word) shared their low bits, and so their slots.
 */
function hashWords(k0: number, k1: number, k2: number, k3: number, k4: number, k5: number, k6: number, k7: number, k8: number, k9: number): number {
  let h = 0x811c9dc5;
  h = mix(h, k0);
  h = mix(h, k1);
  h = mix(h, k2);
  h = mix(h, k3);
  h = mix(h, k4);
  h = mix(h, k5);
  h = mix(h, k6);
  h = mix(h, k7);
  h = mix(h, k8);
  h = mix(h, k9);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function mix(h: number, word: number): number {
  return Math.imul(h ^ word, 0x01000193) ^ (h >>> 15);
}
