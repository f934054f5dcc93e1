// The accountant: turns decoded packets into connection records (one per local socket),
// per-process totals, the unknown and other buckets, and per-interface totals, following
// the accounting rules of DESIGN.md. It owns the flow table and its bound.

import type { PacketBatch } from '../capture/packet-batch.js';
import type { ProcessInfo, Protocol } from '../attribute/types.js';
import { formatIpv4, formatIpv6 } from '../decode/address.js';
import { decodePacket } from '../decode/decode-packet.js';
import { DecodedPacket, OtherReason, PacketKind, TCP_ACK, TCP_SYN } from '../decode/decoded-packet.js';
import type { Attribution } from './attribution.js';
import { Counter, Traffic } from './counters.js';
import { FlowIndex } from './flow-index.js';

/** One local socket's traffic: the unit DESIGN.md calls a connection record. */
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
 * Both directions between two endpoints. `a` is the endpoint whose key sorts first, so
 * either direction finds the same conversation with one lookup. Each direction lists the
 * counters a packet going that way adds to.
 */
class Conversation {
  lastSeen = 0;
  readonly records: ConnectionRecord[] = [];
  readonly aToB: Counter[] = [];
  readonly bToA: Counter[] = [];
  aToBSent = false;
  aToBReceived = false;
  bToASent = false;
  bToAReceived = false;
}

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

/** A process's identity across PID reuse: the same PID with another start time is another process. */
export function processKey(p: ProcessInfo): string {
  return p.startTime === undefined ? `${p.pid}` : `${p.pid}@${p.startTime}`;
}

export class Meter {
  readonly totals = new Traffic();
  /** Every captured packet once (a loopback packet is sent and received, but one packet). */
  readonly captured = new Counter();
  readonly other = new Traffic();
  readonly otherByReason = new Map<OtherReason, Counter>();
  readonly interfaces = new Map<string, Traffic>();
  /** Traffic of records retired from the flow table, by owner and interface. */
  readonly retired = new Map<string, RetiredTraffic>();
  retiredConnections = 0;
  firstTimestamp = Number.NaN;
  lastTimestamp = Number.NaN;

  private readonly conversations = new FlowIndex<Conversation>();
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
    const { data, offset, capturedLength, wireLength, timestamp, interfaceIndex, interfaces } = batch;
    const out = this.decoded;
    let ifaceTraffic: Traffic | undefined;
    let ifaceIndex = -1;
    let first = this.firstTimestamp;
    let last = this.lastTimestamp;
    for (let i = 0; i < batch.count; i++) {
      const iface = interfaceIndex[i]!;
      if (iface !== ifaceIndex) {
        ifaceIndex = iface;
        this.interfaceName = interfaces[iface]?.name ?? `if${iface}`;
        ifaceTraffic = this.interfaceTraffic(this.interfaceName);
      }
      const length = wireLength[i]!;
      const ts = timestamp[i]!;
      this.captured.add(length);
      // NaN-safe: the first packet sets both.
      if (!(ts >= first)) first = ts;
      if (!(ts <= last)) last = ts;
      const linkType = interfaces[iface]?.linkType ?? -1;
      let sent: boolean;
      let received: boolean;
      if (decodePacket(data, offset[i]!, capturedLength[i]!, linkType, out)) {
        const conversation = this.conversationOf(out, ts);
        const fromA = this.conversations.fromA;
        const counters = fromA ? conversation.aToB : conversation.bToA;
        for (let c = 0; c < counters.length; c++) counters[c]!.add(length);
        sent = fromA ? conversation.aToBSent : conversation.bToASent;
        received = fromA ? conversation.aToBReceived : conversation.bToAReceived;
      } else {
        const direction = this.otherDirection(out);
        sent = direction.sent;
        received = direction.received;
        if (sent) this.other.sent.add(length);
        if (received) this.other.received.add(length);
        let reason = this.otherByReason.get(out.otherReason);
        if (!reason) this.otherByReason.set(out.otherReason, (reason = new Counter()));
        reason.add(length);
      }
      if (sent) {
        this.totals.sent.add(length);
        ifaceTraffic!.sent.add(length);
      }
      if (received) {
        this.totals.received.add(length);
        ifaceTraffic!.received.add(length);
      }
    }
    this.firstTimestamp = first;
    this.lastTimestamp = last;
    if (this.conversations.size > this.maxConversations) this.retireLeastRecent();
  }

  /** Connection records still in the flow table. */
  *records(): IterableIterator<ConnectionRecord> {
    for (const conversation of this.conversations.values_()) yield* conversation.records;
  }

  /** Looks again for the owners of records that have none (after the socket tables were re-read). */
  attributeUnknown(): number {
    let found = 0;
    for (const record of this.records()) {
      if (record.owner) continue;
      record.owner = this.attribution.owner(record.protocol, record.localAddress, record.localPort, record.remoteAddress, record.remotePort);
      if (record.owner) found++;
    }
    return found;
  }

  private interfaceTraffic(name: string): Traffic {
    let traffic = this.interfaces.get(name);
    if (!traffic) this.interfaces.set(name, (traffic = new Traffic()));
    return traffic;
  }

  private conversationOf(p: DecodedPacket, ts: number): Conversation {
    let conversation = this.conversations.get(p);
    if (!conversation) {
      conversation = this.openConversation(p, this.conversations.fromA);
      this.conversations.set(conversation);
    }
    conversation.lastSeen = ts;
    return conversation;
  }

  /** A new conversation: one record per local end, each counting its own direction. */
  private openConversation(p: DecodedPacket, sourceIsA: boolean): Conversation {
    const format = p.ipVersion === 4 ? formatIpv4 : formatIpv6;
    const protocol: Protocol = p.kind === PacketKind.TCP ? 'tcp' : 'udp';
    const source = { address: format(p.data, p.sourceAt), port: p.sourcePort };
    const destination = { address: format(p.data, p.destinationAt), port: p.destinationPort };
    const sourceLocal = this.attribution.isLocal(source.address);
    const destinationLocal = this.attribution.isLocal(destination.address);
    const conversation = new Conversation();
    // Counters a packet from source to destination adds to, and those of the way back.
    const forward: Counter[] = [];
    const backward: Counter[] = [];
    let forwardSent = false;
    let forwardReceived = false;
    const open = (local: typeof source, remote: typeof source) => {
      const record = new ConnectionRecord(protocol, local.address, local.port, remote.address, remote.port, this.interfaceName);
      record.owner = this.attribution.owner(protocol, local.address, local.port, remote.address, remote.port);
      conversation.records.push(record);
      return record;
    };
    if (sourceLocal || destinationLocal) {
      if (sourceLocal) {
        const record = open(source, destination);
        forward.push(record.sent);
        backward.push(record.received);
        forwardSent = true;
      }
      if (destinationLocal) {
        const record = open(destination, source);
        forward.push(record.received);
        backward.push(record.sent);
        forwardReceived = true;
      }
    } else {
      // Neither end is known to be ours: count once, from the initiator's side. A SYN-ACK
      // seen first means the destination initiated.
      const synAck = p.kind === PacketKind.TCP && (p.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
      const initiatorIsSource = !synAck;
      const record = initiatorIsSource ? open(source, destination) : open(destination, source);
      forward.push(initiatorIsSource ? record.sent : record.received);
      backward.push(initiatorIsSource ? record.received : record.sent);
      forwardSent = initiatorIsSource;
      forwardReceived = !initiatorIsSource;
    }
    conversation.aToB.push(...(sourceIsA ? forward : backward));
    conversation.bToA.push(...(sourceIsA ? backward : forward));
    // The two flags of the way back are the forward ones swapped: what one socket sends, the other receives.
    const backwardSent = sourceLocal || destinationLocal ? destinationLocal : !forwardSent;
    const backwardReceived = sourceLocal || destinationLocal ? sourceLocal : !forwardReceived;
    conversation.aToBSent = sourceIsA ? forwardSent : backwardSent;
    conversation.aToBReceived = sourceIsA ? forwardReceived : backwardReceived;
    conversation.bToASent = sourceIsA ? backwardSent : forwardSent;
    conversation.bToAReceived = sourceIsA ? backwardReceived : forwardReceived;
    return conversation;
  }

  /** An "other" packet is sent or received by the locality of its IP addresses; without IP, received. */
  private otherDirection(p: DecodedPacket): { sent: boolean; received: boolean } {
    if (p.ipVersion === 0) return { sent: false, received: true };
    const format = p.ipVersion === 4 ? formatIpv4 : formatIpv6;
    const sent = this.attribution.isLocal(format(p.data, p.sourceAt));
    const received = this.attribution.isLocal(format(p.data, p.destinationAt));
    return sent || received ? { sent, received } : { sent: false, received: true };
  }

  /** Retires conversations with no packet since `cutoff` (seconds): their totals stay with their owners. */
  retireIdle(cutoff: number): void {
    this.conversations.retain((conversation) => {
      if (conversation.lastSeen >= cutoff) return true;
      for (const record of conversation.records) this.retire(record);
      return false;
    });
  }

  /** Drops the least recently seen tenth of the conversations, keeping their totals. */
  private retireLeastRecent(): void {
    const ages = [...this.conversations.values_()].map((c) => c.lastSeen).sort((x, y) => x - y);
    const excess = this.conversations.size - Math.floor(this.maxConversations * 0.9);
    const cutoff = ages[excess - 1]!; // ties at the cutoff go too, so the bound always holds
    this.conversations.retain((conversation) => {
      if (conversation.lastSeen > cutoff) return true;
      for (const record of conversation.records) this.retire(record);
      return false;
    });
  }

  private retire(record: ConnectionRecord): void {
    this.retiredConnections++;
    const key = `${record.owner ? processKey(record.owner) : ''}|${record.interfaceName}`;
    let entry = this.retired.get(key);
    if (!entry) this.retired.set(key, (entry = { process: record.owner, interfaceName: record.interfaceName, traffic: new Traffic() }));
    entry.traffic.addTraffic(record);
  }
}
