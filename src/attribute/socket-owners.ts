// Who holds which socket: walks PROC/PID/fd links into socket inode → owning pids, through
// the project's N-API addon when it is built, else through a plain fs.promises walk.

import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { loadNativeAddon } from '../native-addon.js';

/** Socket inode → pids holding it, ascending and unique (a forked child shares its parent's sockets). */
export type SocketOwners = Map<number, number[]>;

/** What the addon's walk resolves to: (inode, pid) pairs sorted by inode then pid, without duplicates. */
interface NativeOwnerPairs {
  inodes: Float64Array;
  pids: Int32Array;
}

interface NativeAddon {
  walkSocketOwners(procRoot: string): Promise<NativeOwnerPairs>;
}

// Both walks accept the same names and links, so a snapshot reads alike through either.
const PID_NAME = /^[0-9]{1,9}$/;
const SOCKET_LINK = /^socket:\[([0-9]+)\]$/;

// Enough readdir/readlink calls in flight to keep libuv's pool busy without queueing one
// promise per descriptor on a host with 100k sockets.
const CONCURRENCY = 32;

// The addon is loaded once, on first use; a failure is kept so it can be reported, not thrown.
let addon: NativeAddon | undefined;
let addonError: Error | undefined;
let addonTried = false;

/** The plain Node walk: readdir and readlink through fs.promises, a bounded number at a time. */
export async function walkSocketOwnersJs(procRoot: string): Promise<SocketOwners> {
  // Failing to list the root is the caller's problem (wrong path, no /proc): let it reject.
  const pids = (await readdir(procRoot)).filter((name) => PID_NAME.test(name));
  // Two flat passes, each bounded, so one process holding 20k sockets is read as fast as
  // 20k processes holding one each.
  const links: Array<[path: string, pid: number]> = [];
  await forEachBounded(pids, async (name) => {
    const fdDir = join(procRoot, name, 'fd');
    try {
      for (const fd of await readdir(fdDir)) links.push([join(fdDir, fd), Number(name)]);
    } catch {
      // exited, not ours to read, or no fd dir: a live /proc always races with exits
    }
  });
  const pairs: Array<[inode: number, pid: number]> = [];
  await forEachBounded(links, async ([path, pid]) => {
    try {
      const inode = socketInode(await readlink(path));
      if (inode !== undefined) pairs.push([inode, pid]);
    } catch {
      // closed since readdir, or not a link
    }
  });
  return ownersFromPairs(pairs);
}

/** The addon's walk, run on a libuv worker thread; rejects when the addon is not built. */
export async function walkSocketOwnersNative(procRoot: string): Promise<SocketOwners> {
  const addon = loadAddon();
  if (addon === undefined) throw addonError ?? new Error('netmeter native addon is not loaded');
  const { inodes, pids } = await addon.walkSocketOwners(procRoot);
  // Pairs arrive sorted and unique, so each inode's pids are one ascending run.
  const owners: SocketOwners = new Map();
  let current: number[] = [];
  for (let i = 0; i < inodes.length; i++) {
    if (i === 0 || inodes[i] !== inodes[i - 1]) {
      current = [];
      owners.set(inodes[i]!, current);
    }
    current.push(pids[i]!);
  }
  return owners;
}

/** Socket inode → owning pids under procRoot, by the fastest walk available. */
export async function walkSocketOwners(procRoot = '/proc'): Promise<SocketOwners> {
  return nativeAddonAvailable() ? walkSocketOwnersNative(procRoot) : walkSocketOwnersJs(procRoot);
}

/** Whether walkSocketOwners uses the addon; when false, nativeAddonError() says why. */
export function nativeAddonAvailable(): boolean {
  return loadAddon() !== undefined;
}

/** Why the addon did not load (not built, wrong ABI, ...), or undefined when it did. */
export function nativeAddonError(): Error | undefined {
  loadAddon();
  return addonError;
}

function loadAddon(): NativeAddon | undefined {
  if (addonTried) return addon;
  addonTried = true;
  const result = loadNativeAddon();
  if ('error' in result) addonError = result.error;
  else addon = result.addon as unknown as NativeAddon;
  return addon;
}

function socketInode(target: string): number | undefined {
  const match = SOCKET_LINK.exec(target);
  if (match === null) return undefined;
  const inode = Number(match[1]);
  return Number.isSafeInteger(inode) ? inode : undefined;
}

function ownersFromPairs(pairs: Array<[inode: number, pid: number]>): SocketOwners {
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const owners: SocketOwners = new Map();
  for (const [inode, pid] of pairs) {
    const pids = owners.get(inode);
    if (pids === undefined) owners.set(inode, [pid]);
    else if (pids[pids.length - 1] !== pid) pids.push(pid);
  }
  return owners;
}

async function forEachBounded<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}
