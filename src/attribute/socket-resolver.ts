// Answers "which process owns the local socket of this packet?" from one SocketSnapshot, by
// docs/design.md's socket match, and "is this address one of ours?". Indexes are built once per
// snapshot (construction or update()), so a lookup reads a few Maps and builds no key string.

import { type Cidr, cidrContains, parseIp, unmapIpv4 } from '../decode/address.js';
import type { ProcessInfo, Protocol, SocketSnapshot } from './types.js';

export interface SocketResolverOptions {
  /** Networks counted as local beyond the snapshot's addresses (`--local CIDR,...`). */
  localCidrs?: Cidr[];
}

const TCP_LISTEN = 10;
const WILDCARD_V4 = '0.0.0.0';
const WILDCARD_V6 = '::';

// A UDP slot found with owner undefined means "a socket matches, its owner is unknown": the
// kernel would deliver to that socket, so a less specific socket must not take the packet.
// A TCP connection without owner falls back to the listener on its port, like a connection
// no table row names: most often it closed between the table read and the fd walk (those
// that live tens of ms), and its listener is the process that accepted it.
interface Slot {
  owner: ProcessInfo | undefined;
}

// Indexes are nested Maps keyed by the parts of the tuple, not one Map keyed by a tuple
// string: building and hashing a fresh string per lookup was most of the cost. There is no
// LRU cache in front, because a cache needs exactly such a string key. Measured with node 20
// on this shared 2-core machine (10k sockets, 1M lookups over 1k hot tuples, 3/4 TCP and 1/4
// UDP falling through to a bound socket), per resolve(): one Map keyed by "addr port addr
// port" ~420 ns, the same behind an lru-cache of 1k ~410 ns; nested Maps ~135-190 ns, the
// same behind an lru-cache ~390 ns.
export class SocketResolver {
  private readonly localCidrs: Cidr[];
  private tcp = new TupleIndex();
  private tcpListening = new Map<number, Map<string, Slot>>(); // port → address → slot
  private udpConnected = new TupleIndex();
  private udpBound = new Map<number, Map<string, Slot>>(); // port → address → slot
  private udpWildcardV4 = new Map<number, Slot>();
  private udpWildcardV6 = new Map<number, Slot>();
  private local = new Set<string>();

  constructor(snapshot: SocketSnapshot, options: SocketResolverOptions = {}) {
    this.localCidrs = options.localCidrs ?? [];
    this.update(snapshot);
  }

  /** Swaps in a fresh snapshot (the live path re-reads /proc); the local CIDRs stay. */
  update(snapshot: SocketSnapshot): void {
    const processes = new Map(snapshot.processes.map((p) => [p.pid, p]));
    const owners = new Map<number, ProcessInfo | undefined>();
    for (const [inode, pids] of snapshot.owners) {
      // The lowest pid with a readable process owns a shared socket: a forked child (higher
      // pid, unless pids wrapped) shares its parent's sockets, and the parent is the program
      // the user started. A pid missing from processes exited before it could be read.
      const holder = [...pids]
        .sort((a, b) => a - b)
        .map((pid) => processes.get(pid))
        .find((p) => p !== undefined);
      owners.set(inode, holder);
    }
    const tcp = new TupleIndex();
    const tcpListening = new Map<number, Map<string, Slot>>();
    const udpConnected = new TupleIndex();
    const udpBound = new Map<number, Map<string, Slot>>();
    const udpWildcardV4 = new Map<number, Slot>();
    const udpWildcardV6 = new Map<number, Slot>();
    const local = new Set<string>(snapshot.localAddresses.map(unmapped));
    for (const socket of snapshot.sockets) {
      // An IPv6 socket talking IPv4 shows ::ffff:a.b.c.d; IPv4 packets carry a.b.c.d.
      const localAddress = unmapped(socket.localAddress);
      const remoteAddress = unmapped(socket.remoteAddress);
      const wildcard = localAddress === WILDCARD_V4 || localAddress === WILDCARD_V6;
      if (!wildcard) local.add(localAddress);
      // Inode 0 is a socket no process holds (TIME_WAIT, a request not yet accepted).
      if (socket.inode === 0) continue;
      const owner = owners.get(socket.inode);
      if (socket.protocol === 'tcp') {
        // Each accepted connection is a socket of its own with the full 4-tuple; the listener
        // stands in for connections accepted and closed between two reads of /proc, which
        // belong to the process that listens in all but hand-over designs.
        if (socket.state === TCP_LISTEN) {
          claim(mapIn(tcpListening, socket.localPort), localAddress, owner);
          continue;
        }
        tcp.claim(localAddress, socket.localPort, remoteAddress, socket.remotePort, owner);
      } else if (socket.remotePort !== 0) {
        udpConnected.claim(localAddress, socket.localPort, remoteAddress, socket.remotePort, owner);
      } else if (localAddress === WILDCARD_V4) {
        claim(udpWildcardV4, socket.localPort, owner);
      } else if (localAddress === WILDCARD_V6) {
        claim(udpWildcardV6, socket.localPort, owner);
      } else {
        claim(mapIn(udpBound, socket.localPort), localAddress, owner);
      }
    }
    this.tcp = tcp;
    this.tcpListening = tcpListening;
    this.udpConnected = udpConnected;
    this.udpBound = udpBound;
    this.udpWildcardV4 = udpWildcardV4;
    this.udpWildcardV6 = udpWildcardV6;
    this.local = local;
  }

  /**
   * The process owning the local end of a packet's flow; undefined when no socket matches or
   * the matching socket's holders are gone. Addresses are canonical text, as decoded.
   * TCP: the exact 4-tuple's owner, then a socket listening on the local address:port, then
   * one listening on the wildcard (short connections that came and went between reads, or
   * whose holder was gone by the fd walk). UDP, most specific first, as the kernel delivers: connected
   * 4-tuple, then bound local address:port, then the family's wildcard on the port, and for
   * IPv4 last the IPv6 wildcard '::' (dual-stack unless IPV6_V6ONLY, which /proc does not show).
   */
  resolve(
    protocol: Protocol,
    localAddress: string,
    localPort: number,
    remoteAddress: string,
    remotePort: number,
  ): ProcessInfo | undefined {
    const local = unmapped(localAddress);
    const remote = unmapped(remoteAddress);
    if (protocol === 'tcp') {
      const listening = this.tcpListening.get(localPort);
      return (
        this.tcp.get(local, localPort, remote, remotePort)?.owner ??
        (listening?.get(local) ?? (local.includes(':') ? listening?.get(WILDCARD_V6) : (listening?.get(WILDCARD_V4) ?? listening?.get(WILDCARD_V6))))?.owner
      );
    }
    const slot =
      this.udpConnected.get(local, localPort, remote, remotePort) ??
      this.udpBound.get(localPort)?.get(local) ??
      (local.includes(':')
        ? this.udpWildcardV6.get(localPort)
        : (this.udpWildcardV4.get(localPort) ?? this.udpWildcardV6.get(localPort)));
    return slot?.owner;
  }

  /** The owner of the TCP socket with exactly this 4-tuple, without falling back to a listener. */
  tcpConnectionOwner(localAddress: string, localPort: number, remoteAddress: string, remotePort: number): ProcessInfo | undefined {
    return this.tcp.get(unmapped(localAddress), localPort, unmapped(remoteAddress), remotePort)?.owner;
  }

  /**
   * Whether an address is this host's: one of the snapshot's interface addresses, the
   * non-wildcard local address of any of its sockets, or inside a CIDR given at construction.
   */
  isLocal(address: string): boolean {
    const plain = unmapped(address);
    if (this.local.has(plain)) return true;
    if (this.localCidrs.length === 0) return false;
    const bytes = parseIp(plain);
    return bytes !== undefined && this.localCidrs.some((cidr) => cidrContains(cidr, bytes));
  }
}

/** Slots by local port, remote port, local address, remote address: lookups without allocation. */
class TupleIndex {
  private readonly byLocalPort = new Map<number, Map<number, Map<string, Map<string, Slot>>>>();

  get(localAddress: string, localPort: number, remoteAddress: string, remotePort: number): Slot | undefined {
    return this.byLocalPort.get(localPort)?.get(remotePort)?.get(localAddress)?.get(remoteAddress);
  }

  claim(localAddress: string, localPort: number, remoteAddress: string, remotePort: number, owner: ProcessInfo | undefined): void {
    claim(mapIn(mapIn(mapIn(this.byLocalPort, localPort), remotePort), localAddress), remoteAddress, owner);
  }
}

function mapIn<K, K2, V>(outer: Map<K, Map<K2, V>>, key: K): Map<K2, V> {
  let inner = outer.get(key);
  if (inner === undefined) outer.set(key, (inner = new Map<K2, V>()));
  return inner;
}

// Several sockets can share a key (SO_REUSEPORT groups, a socket and its duplicate in a
// snapshot): the lowest owning pid wins, as for one socket held by several processes.
function claim<K>(index: Map<K, Slot>, key: K, owner: ProcessInfo | undefined): void {
  const slot = index.get(key);
  if (slot === undefined) index.set(key, { owner });
  else if (owner !== undefined && (slot.owner === undefined || owner.pid < slot.owner.pid)) slot.owner = owner;
}

function unmapped(address: string): string {
  return unmapIpv4(address) ?? address;
}
