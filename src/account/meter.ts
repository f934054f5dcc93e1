// The accountant: turns decoded packets into connection records (one per local socket),
// per-process totals, the unknown and other buckets, and per-interface totals, following
// the accounting rules of docs/design.md. It owns the flow table and its bound.

import type { PacketBatch } from '../capture/packet-batch.js';
import { processKey } from '../attribute/process-key.js';
import type { ProcessInfo, Protocol } from '../attribute/types.js';
import { formatIpv4, formatIpv6 } from '../decode/address.js';
import { decodePacket } from '../decode/decode-packet.js';
import { DecodedPacket, OtherReason, PacketKind, TCP_ACK, TCP_SYN } from '../decode/decoded-packet.js';
import type { Attribution } from './attribution.js';
import { Counter, Traffic } from './counters.js';
import { FlowIndex } from './flow-index.js';

/**
 * One local socket's traffic: the unit docs/design.md calls a connection record. While its
 * conversation is in the flow table the meter counts into its own row of numbers, and
 * brings the record's counters up to date when it hands the record out (Meter.records())
 * and when it retires it; a retired record keeps its final counts.
 */
export class ConnectionRecord extends Traffic {
  /** undefined until an owner is found; stays undefined for "unknown". */
  owner: ProcessInfo | undefined;
  constructor(
    readonly protocol: Protocol,
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
    /** The capture interface of the conversation's first packet. */
    readonly interfaceName: string,
  ) {
    super();
  }
}

/**
 * Both directions between two endpoints, "a" being the endpoint whose key sorts first (see
 * FlowIndex). What a packet adds to is not kept here but in the meter's row for the
 * conversation (see ROW), so the per-packet path never touches these objects.
 */
class Conversation {
  constructor(
    readonly records: ConnectionRecord[],
    /** Per record: whether what it sends is what goes from a to b (else from b to a). */
    readonly sendsAToB: boolean[],
  ) {}
  /** Whether takeChanges() has handed its records out: then their retirement is handed out too. */
  handedOut = false;
}

/**
 * Per conversation id, one row of numbers: the bytes and packets of each direction, when
 * it was last seen, and whether each direction counts as sent and as received. One
 * Float64Array for all rows keeps a packet's accounting to one place in memory (with
 * thousands of flows, a few cache misses per packet were most of its cost), and doubles
 * hold byte counts exactly up to 2^53.
 */
const ROW = 8; // doubles per row (64 bytes)
/** Where each direction's two numbers start in a row: its bytes, then its packets. */
const A_TO_B = 0;
const B_TO_A = 2;
const BYTES = 0;
const PACKETS = 1;
const LAST_SEEN = 4;
const FLAGS = 5;
/** When the owner of one of the conversation's UDP records ended (seconds); 0 while none did. */
const OWNER_ENDED_AT = 6;
/**
 * 1 while the id is in the meter's list of changed conversations (see takeChanges). Kept
 * when the row is zeroed for a new conversation: an id is listed at most once, so the list
 * is bounded by the ids without anyone having to read it.
 */
const LISTED = 7;
/** FLAGS bits: whether a→b counts as sent, as received; the b→a ones are these shifted by B_TO_A_SHIFT. */
const SENT = 1;
const RECEIVED = 2;
const B_TO_A_SHIFT = 2;

/** Totals kept for an owner (undefined: unknown) on an interface after its records left the flow table. */
export interface RetiredTraffic {
  process: ProcessInfo | undefined;
  interfaceName: string;
  traffic: Traffic;
}

export interface MeterOptions {
  /** Bound on conversations held; the least recently seen are retired past it. */
  maxConversations?: number;
}

/** The key of Meter.retired: an owner (none: unknown) on an interface. */
export function retiredKey(owner: ProcessInfo | undefined, interfaceName: string): string {
  return `${owner ? processKey(owner) : ''}|${interfaceName}`;
}

export class Meter {
  readonly totals = new Traffic();
  /** Every captured packet once (a loopback packet is sent and received, but one packet). */
  readonly captured = new Counter();
  readonly other = new Traffic();
  readonly otherByReason = new Map<OtherReason, Counter>();
  /** `other` per capture interface (the exporter's per-interface series). */
  readonly otherByInterface = new Map<string, Traffic>();
  readonly interfaces = new Map<string, Traffic>();
  /** Traffic of records retired from the flow table, by owner and interface. */
  readonly retired = new Map<string, RetiredTraffic>();
  retiredConnections = 0;
  /** Records in the flow table, kept as they come and go: records() walks them all to count. */
  private liveRecords = 0;
  firstTimestamp = Number.NaN;
  lastTimestamp = Number.NaN;

  private readonly flows = new FlowIndex();
  /** Conversations by id; undefined for a free id. */
  private readonly conversations: Array<Conversation | undefined> = [];
  /** ROW numbers per conversation id (see ROW); grows by doubling. */
  private rows = new Float64Array(1024 * ROW);
  /** Ids of retired conversations, for reuse. */
  private readonly freeIds: number[] = [];
  /** Ids whose row changed since the last takeChanges() (each once: see LISTED); as long as the rows, so it never overflows. */
  private changed = new Int32Array(1024);
  private changedCount = 0;
  /** Records retired since the last takeChanges() that it had handed out before. */
  private retiredSinceTaken: ConnectionRecord[] = [];
  /** Interface of the packet being accounted. */
  private interfaceName = '';
  private readonly decoded = new DecodedPacket();
  private readonly maxConversations: number;

  constructor(
    private readonly attribution: Attribution,
    options: MeterOptions = {},
  ) {
    this.maxConversations = options.maxConversations ?? 500_000;
  }

  ingest(batch: PacketBatch): void {
    const { data, offset, capturedLength, wireLength, timestamp, packets, lastTimestamp, interfaceIndex, interfaces } = batch;
    const out = this.decoded;
    const flows = this.flows;
    let rows = this.rows;
    let first = this.firstTimestamp;
    let last = this.lastTimestamp;
    // What the totals and the interface's totals gain, summed in locals and added to the
    // objects once per run of packets of one interface rather than once per packet.
    let ifaceIndex = -1;
    let linkType = -1;
    let ifaceTraffic: Traffic | undefined;
    let sentBytes = 0;
    let sentPackets = 0;
    let receivedBytes = 0;
    let receivedPackets = 0;
    let capturedBytes = 0;
    let capturedPackets = 0;
    for (let i = 0; i < batch.count; i++) {
      const iface = interfaceIndex[i]!;
      if (iface !== ifaceIndex) {
        if (ifaceTraffic) this.addTotals(ifaceTraffic, sentBytes, sentPackets, receivedBytes, receivedPackets);
        sentBytes = sentPackets = receivedBytes = receivedPackets = 0;
        ifaceIndex = iface;
        this.interfaceName = interfaces[iface]?.name ?? `if${iface}`;
        linkType = interfaces[iface]?.linkType ?? -1;
        ifaceTraffic = this.interfaceTraffic(this.interfaceName);
      }
      // An entry is one packet, or several of one flow direction (see PacketBatch).
      const length = wireLength[i]!;
      const count = packets === null ? 1 : packets[i]!;
      const ts = timestamp[i]!;
      const lastTs = lastTimestamp === null ? ts : lastTimestamp[i]!;
      capturedBytes += length;
      capturedPackets += count;
      // NaN-safe: the first packet sets both.
      if (!(ts >= first)) first = ts;
      if (!(lastTs <= last)) last = lastTs;
      let flags: number;
      if (decodePacket(data, offset[i]!, capturedLength[i]!, linkType, out)) {
        let id = flows.lookup(out);
        const fromA = flows.fromA;
        if (id < 0) {
          id = this.openConversation(out, fromA, ts);
          flows.insert(id);
          rows = this.rows; // opening may have grown it
        } else if (rows[id * ROW + OWNER_ENDED_AT] !== 0 && ts >= rows[id * ROW + OWNER_ENDED_AT]!) {
          this.reopenConversation(id, out, fromA, ts);
        }
        const row = id * ROW;
        const at = row + (fromA ? A_TO_B : B_TO_A);
        rows[at + BYTES] += length;
        rows[at + PACKETS] += count;
        rows[row + LAST_SEEN] = lastTs;
        if (rows[row + LISTED] === 0) this.listChanged(id);
        flags = fromA ? rows[row + FLAGS]! : rows[row + FLAGS]! >> B_TO_A_SHIFT;
      } else {
        flags = this.accountOther(out, length, count);
      }
      if (flags & SENT) {
        sentBytes += length;
        sentPackets += count;
      }
      if (flags & RECEIVED) {
        receivedBytes += length;
        receivedPackets += count;
      }
    }
    if (ifaceTraffic) this.addTotals(ifaceTraffic, sentBytes, sentPackets, receivedBytes, receivedPackets);
    this.captured.bytes += capturedBytes;
    this.captured.packets += capturedPackets;
    this.firstTimestamp = first;
    this.lastTimestamp = last;
    if (this.flows.size > this.maxConversations) this.retireLeastRecent();
  }

  /** Connection records still in the flow table, their counters brought up to date. */
  *records(): IterableIterator<ConnectionRecord> {
    for (const id of this.flows.ids()) {
      this.updateRecords(id);
      yield* this.conversations[id]!.records;
    }
  }

  /**
   * What changed since the last call, for a reader that keeps totals incrementally
   * (MeterTotals; there is one such reader): `changed` gets each record still in the flow
   * table whose conversation counted a packet (its counters brought up to date), `retired`
   * each record retired since that a former call had handed out (with its final counts).
   * Records opened and retired in between are only in `retired` (the map). Costs what
   * changed, not what the flow table holds: a scrape of 22,000 records mostly idle reads few.
   */
  takeChanges(changed: (record: ConnectionRecord) => void, retired: (record: ConnectionRecord) => void): void {
    const gone = this.retiredSinceTaken;
    this.retiredSinceTaken = [];
    for (const record of gone) retired(record);
    const ids = this.changed;
    for (let i = 0; i < this.changedCount; i++) {
      const id = ids[i]!;
      this.rows[id * ROW + LISTED] = 0;
      const conversation = this.conversations[id];
      if (!conversation) continue; // retired, id not reused yet
      this.updateRecords(id);
      conversation.handedOut = true;
      for (const record of conversation.records) changed(record);
    }
    this.changedCount = 0;
  }

  /** How many connection records the flow table holds (cheap: a scrape reads it). */
  get connectionCount(): number {
    return this.liveRecords;
  }

  /** Looks again for the owners of records that have none (after the socket tables were re-read). */
  attributeUnknown(): number {
    let found = 0;
    // Straight over the conversations: records() would first copy every row into its records.
    for (const id of this.flows.ids()) {
      for (const record of this.conversations[id]!.records) {
        if (record.owner) continue;
        record.owner = this.attribution.owner(record.protocol, record.localAddress, record.localPort, record.remoteAddress, record.remotePort);
        if (record.owner) found++;
      }
    }
    return found;
  }

  /**
   * Processes that ended, and when (seconds, as packet times): their UDP conversations are
   * marked, and the first packet captured after the end retires their records (their
   * totals stay with them) and starts new ones, so that a process taking over the port — a
   * service restarted on it — gets records of its own. Packets captured before the end
   * still count for the process that sent them, however late the capture hands them over.
   * A TCP 4-tuple cannot pass to another process while the connection lasts; its last
   * packets (FIN, RST) stay with the process that ended.
   */
  endOwners(ends: Iterable<{ pid: number; at: number }>): void {
    const endedAt = new Map<number, number>();
    for (const { pid, at } of ends) endedAt.set(pid, at);
    if (endedAt.size === 0) return;
    for (const id of this.flows.ids()) {
      for (const r of this.conversations[id]!.records) {
        const at = r.protocol === 'udp' && r.owner !== undefined ? endedAt.get(r.owner.pid) : undefined;
        if (at === undefined) continue;
        const row = id * ROW;
        if (this.rows[row + OWNER_ENDED_AT] === 0 || at < this.rows[row + OWNER_ENDED_AT]!) this.rows[row + OWNER_ENDED_AT] = at;
      }
    }
  }

  private addTotals(iface: Traffic, sentBytes: number, sentPackets: number, receivedBytes: number, receivedPackets: number): void {
    this.totals.add(sentBytes, sentPackets, receivedBytes, receivedPackets);
    iface.add(sentBytes, sentPackets, receivedBytes, receivedPackets);
  }

  private interfaceTraffic(name: string): Traffic {
    let traffic = this.interfaces.get(name);
    if (!traffic) this.interfaces.set(name, (traffic = new Traffic()));
    return traffic;
  }

  /** Lists `id` as changed (its first packet since the last takeChanges()). */
  private listChanged(id: number): void {
    this.rows[id * ROW + LISTED] = 1;
    this.changed[this.changedCount++] = id;
  }

  /** Copies a conversation's row into its records' counters, which are what everyone else reads. */
  private updateRecords(id: number): void {
    const conversation = this.conversations[id]!;
    const row = id * ROW;
    for (let r = 0; r < conversation.records.length; r++) {
      const record = conversation.records[r]!;
      const sent = row + (conversation.sendsAToB[r] ? A_TO_B : B_TO_A);
      const received = row + (conversation.sendsAToB[r] ? B_TO_A : A_TO_B);
      record.sent.bytes = this.rows[sent + BYTES]!;
      record.sent.packets = this.rows[sent + PACKETS]!;
      record.received.bytes = this.rows[received + BYTES]!;
      record.received.packets = this.rows[received + PACKETS]!;
    }
  }

  /** A free conversation id with a zeroed row. */
  private allocateId(): number {
    const id = this.freeIds.pop() ?? this.conversations.length;
    if ((id + 1) * ROW > this.rows.length) {
      const grown = new Float64Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
      const changed = new Int32Array(grown.length / ROW);
      changed.set(this.changed);
      this.changed = changed;
    }
    this.rows.fill(0, id * ROW, id * ROW + LISTED);
    return id;
  }

  /** A new conversation: one record per local end, each counting its own direction. */
  private openConversation(p: DecodedPacket, sourceIsA: boolean, ts: number): number {
    const id = this.allocateId();
    this.fillConversation(id, p, sourceIsA, ts);
    return id;
  }

  /** The conversation's records retire (an owner ended) and new ones, with owners asked anew, take their place. */
  private reopenConversation(id: number, p: DecodedPacket, sourceIsA: boolean, ts: number): void {
    this.retireConversation(id);
    this.rows.fill(0, id * ROW, id * ROW + LISTED);
    this.fillConversation(id, p, sourceIsA, ts);
  }

  /** Makes conversation `id` (its row zeroed) the one of packet `p`. */
  private fillConversation(id: number, p: DecodedPacket, sourceIsA: boolean, ts: number): void {
    const format = p.ipVersion === 4 ? formatIpv4 : formatIpv6;
    const protocol: Protocol = p.kind === PacketKind.TCP ? 'tcp' : 'udp';
    const source = { address: format(p.data, p.sourceAt), port: p.sourcePort };
    const destination = { address: format(p.data, p.destinationAt), port: p.destinationPort };
    const sourceLocal = this.attribution.isLocal(source.address);
    const destinationLocal = this.attribution.isLocal(destination.address);
    const records: ConnectionRecord[] = [];
    const sendsAToB: boolean[] = [];
    const open = (local: typeof source, remote: typeof source, sendsForward: boolean) => {
      const record = new ConnectionRecord(protocol, local.address, local.port, remote.address, remote.port, this.interfaceName);
      record.owner = this.attribution.owner(protocol, local.address, local.port, remote.address, remote.port, ts);
      records.push(record);
      // Forward is source → destination.
      sendsAToB.push(sendsForward === sourceIsA);
    };
    // Whether a packet from source to destination counts as sent, and as received.
    let forwardSent: boolean;
    let forwardReceived: boolean;
    if (sourceLocal || destinationLocal) {
      if (sourceLocal) open(source, destination, true);
      if (destinationLocal) open(destination, source, false);
      forwardSent = sourceLocal;
      forwardReceived = destinationLocal;
    } else {
      // Neither end is known to be ours: count once, from the initiator's side. A SYN-ACK
      // seen first means the destination initiated.
      const synAck = p.kind === PacketKind.TCP && (p.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
      const initiatorIsSource = !synAck;
      if (initiatorIsSource) open(source, destination, true);
      else open(destination, source, false);
      forwardSent = initiatorIsSource;
      forwardReceived = !initiatorIsSource;
    }
    // The way back is the forward way with the roles swapped: what one socket sends, the
    // other receives; with one record, it sends what it did not receive.
    const backwardSent = sourceLocal || destinationLocal ? destinationLocal : !forwardSent;
    const backwardReceived = sourceLocal || destinationLocal ? sourceLocal : !forwardReceived;
    const forward = (forwardSent ? SENT : 0) | (forwardReceived ? RECEIVED : 0);
    const backward = (backwardSent ? SENT : 0) | (backwardReceived ? RECEIVED : 0);
    // Exact-size copies: an array grown by push keeps room for 17 elements, ~250 bytes a
    // conversation for its one or two records: 659 -> 403 bytes a flow retained
    // (`node --expose-gc test/harness/accuracy/meter-heap.mjs`, 100,000 UDP flows).
    this.conversations[id] = new Conversation(records.slice(), sendsAToB.slice());
    this.liveRecords += records.length;
    this.rows[id * ROW + FLAGS] = sourceIsA ? forward | (backward << B_TO_A_SHIFT) : backward | (forward << B_TO_A_SHIFT);
  }

  /** Counts an entry of `packets` packets in "other"; returns its SENT and RECEIVED flags for the totals. */
  private accountOther(p: DecodedPacket, length: number, packets: number): number {
    const flags = this.otherDirection(p);
    let byInterface = this.otherByInterface.get(this.interfaceName);
    if (!byInterface) this.otherByInterface.set(this.interfaceName, (byInterface = new Traffic()));
    if (flags & SENT) {
      this.other.sent.add(length, packets);
      byInterface.sent.add(length, packets);
    }
    if (flags & RECEIVED) {
      this.other.received.add(length, packets);
      byInterface.received.add(length, packets);
    }
    let reason = this.otherByReason.get(p.otherReason);
    if (!reason) this.otherByReason.set(p.otherReason, (reason = new Counter()));
    reason.add(length, packets);
    return flags;
  }

  /** An "other" packet is sent or received by the locality of its IP addresses; without IP, received. */
  private otherDirection(p: DecodedPacket): number {
    if (p.ipVersion === 0) return RECEIVED;
    const format = p.ipVersion === 4 ? formatIpv4 : formatIpv6;
    const sent = this.attribution.isLocal(format(p.data, p.sourceAt));
    const received = this.attribution.isLocal(format(p.data, p.destinationAt));
    if (!sent && !received) return RECEIVED;
    return (sent ? SENT : 0) | (received ? RECEIVED : 0);
  }

  /** Retires conversations with no packet since `cutoff` (seconds): their totals stay with their owners. */
  retireIdle(cutoff: number): void {
    this.retireWhere((id) => this.rows[id * ROW + LAST_SEEN]! < cutoff);
  }

  /** Drops the least recently seen tenth of the conversations, keeping their totals. */
  private retireLeastRecent(): void {
    const ages = [...this.flows.ids()].map((id) => this.rows[id * ROW + LAST_SEEN]!).sort((x, y) => x - y);
    const excess = this.flows.size - Math.floor(this.maxConversations * 0.9);
    const cutoff = ages[excess - 1]!; // ties at the cutoff go too, so the bound always holds
    this.retireWhere((id) => this.rows[id * ROW + LAST_SEEN]! <= cutoff);
  }

  /** Retires the conversations `retire` picks by id: their records' totals go to `retired`, their ids are freed. */
  private retireWhere(retire: (id: number) => boolean): void {
    const leaving: number[] = [];
    for (const id of this.flows.ids()) if (retire(id)) leaving.push(id);
    // Most calls (idle retirement every second, process ends) pick none: skip the rebuild.
    if (leaving.length === 0) return;
    const gone = new Set(leaving);
    this.flows.retain((id) => !gone.has(id));
    for (const id of leaving) {
      this.retireConversation(id);
      this.conversations[id] = undefined;
      this.freeIds.push(id);
    }
  }

  /** Retires the records of conversation `id` with their final counts. */
  private retireConversation(id: number): void {
    this.updateRecords(id);
    const conversation = this.conversations[id]!;
    for (const record of conversation.records) this.retire(record);
    if (conversation.handedOut) this.retiredSinceTaken.push(...conversation.records);
  }

  private retire(record: ConnectionRecord): void {
    this.retiredConnections++;
    this.liveRecords--;
    const key = retiredKey(record.owner, record.interfaceName);
    let entry = this.retired.get(key);
    if (!entry) this.retired.set(key, (entry = { process: record.owner, interfaceName: record.interfaceName, traffic: new Traffic() }));
    entry.traffic.addTraffic(record);
  }
}
