// What the history counts traffic by: an application (program name and executable path),
// the user it ran as, and the interface — or, with `--by host`, the subscriber and the
// interface — and the counts kept for each such key.

import type { ProcessInfo } from '../attribute/types.js';

/** Traffic no process was found for: docs/design.md's "unknown", one application in the history. */
export const UNKNOWN_APP = '(unknown)';
/** The application of a subscriber's traffic (`--by host`): no program, one host. */
export const SUBSCRIBER_APP = '(subscriber)';

export interface UsageKey {
  /** Program name (/proc/PID/comm), or UNKNOWN_APP. */
  app: string;
  /** Executable path; '' when unreadable (another user's process without privilege, a kernel thread). */
  exe: string;
  /** User name (from one uid → name table), else the uid as text; '' when unknown. */
  user: string;
  interface: string;
  /** `--by host`: the subscriber (attribute/subscribers.ts); absent for a program's traffic. */
  host?: string;
}

export interface UsageCounts {
  sentBytes: number;
  receivedBytes: number;
  sentPackets: number;
  receivedPackets: number;
}

export type UsageTotal = UsageKey & UsageCounts;

/** Cumulative totals per key that never go down while the source lives (a new source starts from zero). */
export interface UsageSource {
  totals(): Iterable<UsageTotal>;
}

/** uid → user name (UserNames.name), the one table every key's user comes from. */
export type UserNameOf = (uid: number) => string | undefined;

/**
 * The key an owner's traffic is filed under. The user is the uid's name from `userName`
 * whenever the uid is known, whatever name the owner came with: an owner read from /proc
 * carries its name, one only the kernel saw (it ended first) carries just its uid, and both
 * must be one user. A uid no name is known for stays its number.
 */
export function usageKeyOf(owner: ProcessInfo | undefined, interfaceName: string, userName?: UserNameOf): UsageKey {
  if (!owner) return { app: UNKNOWN_APP, exe: '', user: '', interface: interfaceName };
  if (owner.host !== undefined) return { app: SUBSCRIBER_APP, exe: '', user: '', interface: interfaceName, host: owner.host };
  const named = owner.uid === null ? undefined : userName?.(owner.uid);
  const user = named ?? owner.user ?? (owner.uid === null ? '' : String(owner.uid));
  return { app: owner.name, exe: owner.exe ?? '', user, interface: interfaceName };
}

/** One string per key, for maps. */
export function usageKeyText(key: UsageKey): string {
  return JSON.stringify([key.app, key.exe, key.user, key.interface, key.host ?? '']);
}

export function zeroCounts(): UsageCounts {
  return { sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };
}

export function addCounts(into: UsageCounts, more: UsageCounts): void {
  into.sentBytes += more.sentBytes;
  into.receivedBytes += more.receivedBytes;
  into.sentPackets += more.sentPackets;
  into.receivedPackets += more.receivedPackets;
}

export function isZero(c: UsageCounts): boolean {
  return c.sentBytes === 0 && c.receivedBytes === 0 && c.sentPackets === 0 && c.receivedPackets === 0;
}
