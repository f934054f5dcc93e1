// Per-subscriber accounting (`--by host`, docs/design.md "Subscribers"): the owner of a
// packet's local end is the subscriber it belongs to — the IPv4 address itself, or the
// IPv6 address's prefix (/64 unless told) — instead of the process holding the socket.
// One wrapper around the host's Attribution, so the meter and everything after it (rates,
// totals, history, cost and quota, report, metrics) count per subscriber exactly as they
// count per process.

import type { Attribution } from '../account/attribution.js';
import { cidrContains, formatIpv4, formatIpv6, parseIp, unmapIpv4, type Cidr } from '../decode/address.js';
import type { ProcessInfo, Protocol } from './types.js';

export const DEFAULT_IPV6_PREFIX = 64;

/**
 * The subscriber an address belongs to: an IPv4 address (an IPv4-mapped IPv6 one as its
 * IPv4) stands for itself; an IPv6 address for its prefix, written "fd00:1::/64" (a /128
 * is the address alone). undefined when the text is not an address.
 */
export function subscriberOf(address: string, ipv6Prefix: number): string | undefined {
  const bytes = parseIp(unmapIpv4(address) ?? address);
  if (!bytes) return undefined;
  if (bytes.length === 4) return formatIpv4(bytes, 0);
  if (ipv6Prefix >= 128) return formatIpv6(bytes, 0);
  for (let bit = ipv6Prefix; bit < 128; bit++) bytes[bit >> 3] = bytes[bit >> 3]! & ~(0x80 >> (bit & 7));
  return `${formatIpv6(bytes, 0)}/${ipv6Prefix}`;
}

/** The owner a subscriber's traffic is credited to: no process (pid 0), named by its host. */
export function subscriberOwner(host: string): ProcessInfo {
  return { pid: 0, name: host, cmdline: '', user: null, uid: null, host };
}

/** More distinct addresses than this and the cache of owners starts again (a scan of a /16). */
const MAX_CACHED_ADDRESSES = 1 << 18;

export class SubscriberAttribution implements Attribution {
  private readonly owners = new Map<string, ProcessInfo | undefined>();
  /** Local ends seen that no --local CIDR names: this host's own addresses. */
  readonly ownAddressesSeen = new Set<string>();
  /** Local ends seen inside the --local CIDRs: real subscribers. */
  subscriberAddressesSeen = 0;

  constructor(
    private readonly host: Attribution,
    private readonly localCidrs: readonly Cidr[],
    private readonly ipv6Prefix: number = DEFAULT_IPV6_PREFIX,
  ) {}

  isLocal(address: string): boolean {
    return this.host.isLocal(address);
  }

  /** The local end's subscriber; undefined (unknown) when the end is not local. */
  owner(_protocol: Protocol, localAddress: string, _localPort?: number, _remoteAddress?: string, _remotePort?: number): ProcessInfo | undefined {
    if (this.owners.has(localAddress)) return this.owners.get(localAddress);
    if (this.owners.size >= MAX_CACHED_ADDRESSES) this.owners.clear();
    let owner: ProcessInfo | undefined;
    if (this.host.isLocal(localAddress)) {
      const host = subscriberOf(localAddress, this.ipv6Prefix);
      owner = host === undefined ? undefined : subscriberOwner(host);
      const bytes = parseIp(unmapIpv4(localAddress) ?? localAddress);
      if (bytes && this.localCidrs.some((cidr) => cidrContains(cidr, bytes))) this.subscriberAddressesSeen++;
      else if (this.ownAddressesSeen.size < 16) this.ownAddressesSeen.add(localAddress);
    }
    this.owners.set(localAddress, owner);
    return owner;
  }

  /**
   * One line when what was seen says the capture cannot tell subscribers apart: no --local
   * networks at all, or traffic whose only local end is this host's own address (the
   * uplink behind a MASQUERADE, where every subscriber shares it). undefined otherwise.
   */
  captureAdvice(): string | undefined {
    if (this.localCidrs.length === 0) {
      return "--by host without --local: only this host's own addresses count as subscribers; name the subscribers' networks with --local CIDRS and capture on the inside interface";
    }
    if (this.subscriberAddressesSeen === 0 && this.ownAddressesSeen.size > 0) {
      const own = [...this.ownAddressesSeen].join(', ');
      return `--by host: traffic is seen only at this host's own address ${own}, none at the --local subscribers: behind a NAT uplink every subscriber shares one address; capture on the inside interface`;
    }
    return undefined;
  }
}
