// The flow table's index: an open-addressing hash table keyed by the raw 5-tuple words of a
// decoded packet, with both directions of a conversation under one key. Looking a packet
// up builds no string and allocates nothing, which is what lets replay pass a million
// packets a second.

import type { DecodedPacket } from '../decode/decoded-packet.js';

/** Key words: [protocol/version, address A ×4, address B ×4, port A << 16 | port B]. */
const WORDS = 10;
const EMPTY = 0; // word 0 of a used slot is never 0: it holds the protocol

export class FlowIndex<V> {
  private capacity = 1024;
  private keys = new Int32Array(this.capacity * WORDS);
  private values: Array<V | undefined> = new Array(this.capacity);
  private used = 0;
  private readonly probe = new Int32Array(WORDS);
  private probeHash = 0;
  /** After get(): whether the packet goes from endpoint A (the one whose key sorts first) to B. */
  fromA = true;

  get size(): number {
    return this.used;
  }

  /** Looks up the packet's conversation; afterwards `fromA` tells its direction and set() can add it. */
  get(p: DecodedPacket): V | undefined {
    const k = this.probe;
    const d = p.data;
    let s = p.sourceAt;
    let t = p.destinationAt;
    k[0] = (p.kind << 8) | p.ipVersion;
    if (p.ipVersion === 4) {
      k[1] = (d[s]! << 24) | (d[s + 1]! << 16) | (d[s + 2]! << 8) | d[s + 3]!;
      k[5] = (d[t]! << 24) | (d[t + 1]! << 16) | (d[t + 2]! << 8) | d[t + 3]!;
      k[2] = k[3] = k[4] = k[6] = k[7] = k[8] = 0;
    } else {
      for (let w = 1; w <= 4; w++, s += 4, t += 4) {
        k[w] = (d[s]! << 24) | (d[s + 1]! << 16) | (d[s + 2]! << 8) | d[s + 3]!;
        k[w + 4] = (d[t]! << 24) | (d[t + 1]! << 16) | (d[t + 2]! << 8) | d[t + 3]!;
      }
    }
    // Order the endpoints so both directions share a key: A is the smaller (address, port).
    let order = 0;
    for (let w = 1; w <= 4 && order === 0; w++) order = (k[w]! >>> 0) - (k[w + 4]! >>> 0);
    if (order === 0) order = p.sourcePort - p.destinationPort;
    this.fromA = order <= 0;
    if (this.fromA) {
      k[9] = (p.sourcePort << 16) | p.destinationPort;
    } else {
      for (let w = 1; w <= 4; w++) {
        const swap = k[w]!;
        k[w] = k[w + 4]!;
        k[w + 4] = swap;
      }
      k[9] = (p.destinationPort << 16) | p.sourcePort;
    }
    this.probeHash = hashKey(k);
    const slot = this.find(k, this.probeHash);
    return this.keys[slot * WORDS] === EMPTY ? undefined : this.values[slot];
  }

  /** Stores a value under the key of the last get(). */
  set(value: V): void {
    if ((this.used + 1) * 4 > this.capacity * 3) this.resize(this.capacity * 2);
    const slot = this.find(this.probe, this.probeHash);
    if (this.keys[slot * WORDS] === EMPTY) this.used++;
    this.keys.set(this.probe, slot * WORDS);
    this.values[slot] = value;
  }

  values_(): IterableIterator<V> {
    return (function* (values: Array<V | undefined>) {
      for (const v of values) if (v !== undefined) yield v;
    })(this.values);
  }

  /** Keeps only the values `keep` accepts (the table is rebuilt, so this is for bulk removal). */
  retain(keep: (value: V) => boolean): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Int32Array(this.capacity * WORDS);
    this.values = new Array(this.capacity);
    this.used = 0;
    this.reinsert(oldKeys, oldValues, keep);
  }

  private resize(capacity: number): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.capacity = capacity;
    this.keys = new Int32Array(capacity * WORDS);
    this.values = new Array(capacity);
    this.used = 0;
    this.reinsert(oldKeys, oldValues, () => true);
  }

  private reinsert(oldKeys: Int32Array, oldValues: Array<V | undefined>, keep: (value: V) => boolean): void {
    const key = new Int32Array(WORDS);
    for (let slot = 0; slot < oldValues.length; slot++) {
      const value = oldValues[slot];
      if (value === undefined || !keep(value)) continue;
      key.set(oldKeys.subarray(slot * WORDS, slot * WORDS + WORDS));
      const target = this.find(key, hashKey(key));
      this.keys.set(key, target * WORDS);
      this.values[target] = value;
      this.used++;
    }
  }

  /** The slot holding `key`, or the empty slot where it would go (linear probing). */
  private find(key: Int32Array, hash: number): number {
    const mask = this.capacity - 1;
    const keys = this.keys;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const base = slot * WORDS;
      if (keys[base] === EMPTY) return slot;
      let w = 0;
      while (w < WORDS && keys[base + w] === key[w]) w++;
      if (w === WORDS) return slot;
    }
  }
}

/**
 * Mixes the key words into a slot hash. The final avalanche (murmur3's fmix32) matters: a
 * multiply moves a word's high bits only upward, so without it flows that differ only in
 * a port (the high half of the last word) shared their low bits, and so their slots.
 */
function hashKey(key: Int32Array): number {
  let h = 0x811c9dc5;
  for (let w = 0; w < WORDS; w++) h = Math.imul(h ^ key[w]!, 0x01000193) ^ (h >>> 15);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
