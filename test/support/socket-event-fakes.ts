// Kernel socket events as the BPF programs write them, and a source that hands them out as
// the addon's SocketEvents does: for tests of KernelOwners and LiveAttribution without a kernel.

import type { EventLayout, SocketEventSource } from '../../src/attribute/kernel-owners.js';
import { parseIp } from '../../src/decode/address.js';

// native/bpf/socket_owner_event.h, copied: the addon's socketEventLayout must say the same.
export const LAYOUT: EventLayout = {
  size: 96, sockAt: 0, pidAt: 8, netnsAt: 16, uidAt: 24, kindAt: 28, oldStateAt: 32, newStateAt: 36, familyAt: 40,
  protocolAt: 42, localPortAt: 44, remotePortAt: 46, localAddressAt: 48, remoteAddressAt: 64, commAt: 80,
};

export interface FakeEvent {
  kind?: 1 | 4;
  protocol?: 6 | 17;
  socket: bigint;
  from: number;
  to: number;
  family?: 2 | 10;
  local?: string;
  localPort?: number;
  remote?: string;
  remotePort?: number;
  pid?: number;
  uid?: number;
  comm?: string;
}

/** Events as the BPF programs write them. */
export function encode(events: FakeEvent[]): Buffer {
  const out = Buffer.alloc(events.length * LAYOUT.size);
  events.forEach((e, i) => {
    const base = i * LAYOUT.size;
    out.writeBigUInt64LE(e.socket, base + LAYOUT.sockAt);
    out.writeInt32LE(e.from, base + LAYOUT.oldStateAt);
    out.writeInt32LE(e.to, base + LAYOUT.newStateAt);
    out.writeUInt16LE(e.localPort ?? 0, base + LAYOUT.localPortAt);
    out.writeUInt16LE(e.remotePort ?? 0, base + LAYOUT.remotePortAt);
    const family = e.family ?? 2;
    out.writeUInt16LE(family, base + LAYOUT.familyAt);
    out.writeUInt16LE(e.protocol ?? 6, base + LAYOUT.protocolAt);
    if (e.local) out.set(parseIp(e.local)!, base + LAYOUT.localAddressAt);
    if (e.remote) out.set(parseIp(e.remote)!, base + LAYOUT.remoteAddressAt);
    out.writeBigUInt64LE(BigInt(e.pid ?? 0) << 32n | BigInt(e.pid ?? 0), base + LAYOUT.pidAt);
    out.writeUInt32LE(e.uid ?? 0, base + LAYOUT.uidAt);
    out.write(e.comm ?? '', base + LAYOUT.commAt, 16, 'latin1');
    out.writeUInt32LE(e.kind ?? 1, base + LAYOUT.kindAt);
  });
  return out;
}

export class FakeSource implements SocketEventSource {
  readonly waiting: Buffer[] = [];
  closed = false;
  push(...events: FakeEvent[]): void {
    this.waiting.push(encode(events));
  }
  onReady: (() => void) | undefined;
  watches = 0;
  dropped = 0;
  lost(): number {
    return this.dropped;
  }
  read(): Buffer | null {
    return this.waiting.shift() ?? null;
  }
  watch(onReady: () => void): void {
    this.watches++;
    this.onReady = onReady;
  }
  /** What the addon does when the ring's fd turns readable: one call, then no more until watched again. */
  ready(): void {
    const onReady = this.onReady;
    this.onReady = undefined;
    onReady?.();
  }
  close(): void {
    this.closed = true;
  }
}

