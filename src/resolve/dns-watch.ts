// DNS answers seen on the captured devices, into the host name cache. A second, small
// capture per device of its own — kernel filter `udp port 53 or udp port 5353`, whole
// packets, every packet its own entry — because the meter's capture keeps 256 bytes of a
// packet and merges a flow's packets per batch, which would cut and hide answers. It feeds
// only the names: the meter counts these packets from its own capture, once. The meter's
// per-packet path is untouched; the kernel runs one more small BPF filter per packet.

import type { LiveSource, LiveSourceOptions } from '../capture/live-source.js';
import type { PacketBatch } from '../capture/packet-batch.js';
import { readDnsAnswers, type DnsAddressName } from '../decode/dns-answer.js';
import { decodePacket } from '../decode/decode-packet.js';
import { DecodedPacket, PacketKind } from '../decode/decoded-packet.js';
import type { HostNames } from './host-names.js';

export const DNS_FILTER = 'udp port 53 or udp port 5353';
/** Whole answers: EDNS allows 4,096 bytes and more, mDNS up to 9,000. */
const DNS_SNAP_LENGTH = 65535;
/** DNS is a trickle next to the traffic the meter's 8 MiB ring takes. */
const DNS_BUFFER_BYTES = 1024 * 1024;
const DNS_PORT = 53;
const MDNS_PORT = 5353;

export interface DnsWatchOptions {
  open: (options: LiveSourceOptions) => Promise<LiveSource>;
  engine?: LiveSourceOptions['engine'];
  promisc?: boolean;
  /** A device whose DNS capture could not open or failed (said once per device and message). */
  onNotice?: (line: string) => void;
}

/** What the watch saw, for the help screen and tests. */
export interface DnsWatchCounts {
  /** Responses read whole (with or without addresses). */
  responses: number;
  /** Address → name pairs learnt. */
  names: number;
  /** Packets on the DNS ports that were truncated or corrupt: skipped. */
  malformed: number;
}

interface DeviceWatch {
  source: LiveSource;
  done: Promise<void>;
  closing: boolean;
}

export class DnsWatch {
  readonly counts: DnsWatchCounts = { responses: 0, names: 0, malformed: 0 };
  private readonly watches = new Map<string, DeviceWatch>();
  private readonly opening = new Set<string>();
  private readonly told = new Map<string, string>();
  private readonly decoded = new DecodedPacket();
  private readonly found: DnsAddressName[] = [];
  private closed = false;

  constructor(
    private readonly names: HostNames,
    private readonly options: DnsWatchOptions,
  ) {}

  /** Watches exactly `devices`: opens those not watched yet, closes those gone. Resolves once the new ones opened or failed. */
  async follow(devices: readonly string[]): Promise<void> {
    const wanted = new Set(devices);
    for (const [device, watch] of this.watches) {
      if (wanted.has(device)) continue;
      this.watches.delete(device);
      watch.closing = true;
      void watch.source.close().catch(() => undefined);
    }
    const opens = devices.filter((d) => !this.watches.has(d) && !this.opening.has(d)).map((d) => this.open(d));
    await Promise.all(opens);
  }

  async close(): Promise<void> {
    this.closed = true;
    const watches = [...this.watches.values()];
    this.watches.clear();
    for (const watch of watches) watch.closing = true;
    await Promise.all(watches.map((w) => w.source.close().catch(() => undefined)));
    await Promise.all(watches.map((w) => w.done));
  }

  /** Reads the DNS answers of one batch into the names (also used on captured files by tests). */
  ingest(batch: PacketBatch): void {
    const out = this.decoded;
    for (let i = 0; i < batch.count; i++) {
      const linkType = batch.interfaces[batch.interfaceIndex[i]!]?.linkType ?? -1;
      const start = batch.offset[i]!;
      const end = start + batch.capturedLength[i]!;
      if (!decodePacket(batch.data, start, end - start, linkType, out) || out.kind !== PacketKind.UDP) continue;
      if (out.sourcePort !== DNS_PORT && out.sourcePort !== MDNS_PORT) continue;
      const payload = udpPayload(batch.data, end, out);
      if (!payload) {
        this.counts.malformed++;
        continue;
      }
      this.found.length = 0;
      const result = readDnsAnswers(batch.data, payload.start, payload.end, this.found);
      if (result === 'malformed') this.counts.malformed++;
      if (result !== 'answers') continue;
      this.counts.responses++;
      for (const answer of this.found) {
        this.names.learnAnswer(answer.address, answer.name, answer.ttlSeconds);
        this.counts.names++;
      }
    }
  }

  private async open(device: string): Promise<void> {
    this.opening.add(device);
    try {
      const source = await this.options.open({
        device,
        filter: DNS_FILTER,
        everyPacket: true,
        snapLength: DNS_SNAP_LENGTH,
        bufferBytes: DNS_BUFFER_BYTES,
        promisc: this.options.promisc ?? false,
        ...(this.options.engine ? { engine: this.options.engine } : {}),
      });
      if (this.closed) return void (await source.close().catch(() => undefined));
      const watch: DeviceWatch = { source, done: Promise.resolve(), closing: false };
      this.watches.set(device, watch);
      this.told.delete(device);
      watch.done = (async () => {
        for await (const batch of source.batches()) this.ingest(batch);
      })().then(
        () => this.ended(device, watch, undefined),
        (error: unknown) => this.ended(device, watch, error),
      );
    } catch (error) {
      this.tell(device, error);
    } finally {
      this.opening.delete(device);
    }
  }

  private ended(device: string, watch: DeviceWatch, error: unknown): void {
    if (watch.closing) return;
    if (this.watches.get(device) === watch) this.watches.delete(device);
    // The next follow() opens it again if the device is still captured.
    if (error !== undefined) this.tell(device, error);
  }

  private tell(device: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.told.get(device) === message) return;
    this.told.set(device, message);
    this.options.onNotice?.(`no host names from DNS answers on ${device}: ${message}`);
  }
}

/**
 * Where the UDP payload of the decoded packet lies: after the IPv4 header (its IHL) or a
 * bare IPv6 header, up to the UDP length. An IPv6 answer behind extension headers is
 * skipped (undefined), as is one whose UDP length does not fit.
 */
function udpPayload(data: Uint8Array, end: number, out: DecodedPacket): { start: number; end: number } | undefined {
  let udpAt: number;
  if (out.ipVersion === 4) {
    const ipAt = out.sourceAt - 12;
    udpAt = ipAt + (data[ipAt]! & 0x0f) * 4;
  } else {
    const ipAt = out.sourceAt - 8;
    if (data[ipAt + 6] !== 17) return undefined;
    udpAt = ipAt + 40;
  }
  const udpLength = (data[udpAt + 4]! << 8) | data[udpAt + 5]!;
  if (udpLength < 8 || udpAt + udpLength > end) return undefined;
  return { start: udpAt + 8, end: udpAt + udpLength };
}
