// Which network interfaces a live capture listens on: the default set (every interface
// that is up and carries traffic of this host) and validation of names a user gives.

import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { NetmeterError } from '../errors.js';

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
/** libpcap's pseudo-device that captures on every interface at once. */
const ANY_DEVICE = 'any';

/** A capture device that does not exist, or stopped working; the message is one line. */
export class CaptureDeviceError extends NetmeterError {
  override name = 'CaptureDeviceError';
  constructor(
    readonly device: string,
    message: string,
  ) {
    super(message);
  }
}

/** Interface names present in the kernel, sorted. */
export function listInterfaces(sysRoot = '/sys/class/net'): string[] {
  try {
    return readdirSync(sysRoot).sort();
  } catch {
    return [];
  }
}

export function interfaceExists(name: string, sysRoot = '/sys/class/net'): boolean {
  return isPlainInterfaceName(name) && readSysFile(sysRoot, name, 'flags') !== undefined;
}

/** True when the interface exists and is administratively up (IFF_UP). */
export function interfaceIsUp(name: string, sysRoot = '/sys/class/net'): boolean {
  const flags = readFlags(sysRoot, name);
  return flags !== undefined && (flags & IFF_UP) !== 0;
}

/**
 * Every interface that is up, has an address other than an IPv6 link-local one, and is
 * not loopback — the interfaces this host's own traffic leaves by. Bridge ports are left
 * out: what they carry is also seen, and would be counted again, on their bridge.
 */
export function defaultCaptureInterfaces(
  addresses: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
  sysRoot = '/sys/class/net',
): string[] {
  const chosen: string[] = [];
  for (const [name, infos] of Object.entries(addresses)) {
    if (!infos || !isPlainInterfaceName(name)) continue;
    if (!infos.some((a) => !a.internal && !isIpv6LinkLocal(a))) continue;
    const flags = readFlags(sysRoot, name);
    if (flags === undefined || (flags & IFF_UP) === 0 || (flags & IFF_LOOPBACK) !== 0) continue;
    const operstate = readSysFile(sysRoot, name, 'operstate');
    // 'unknown' is what tunnels and other carrier-less interfaces report while working.
    if (operstate === 'down' || operstate === 'lowerlayerdown' || operstate === 'notpresent') continue;
    if (readSysFile(sysRoot, name, 'brport/state') !== undefined) continue;
    chosen.push(name);
  }
  return chosen;
}

/**
 * The interfaces to capture on: the requested names checked against the kernel's list
 * (duplicates dropped, order kept), or the default set when none are requested.
 */
export function resolveCaptureInterfaces(
  requested: string[],
  sysRoot = '/sys/class/net',
  addresses?: NodeJS.Dict<NetworkInterfaceInfo[]>,
): string[] {
  const available = listInterfaces(sysRoot);
  if (requested.length === 0) {
    const defaults = defaultCaptureInterfaces(addresses, sysRoot);
    if (defaults.length === 0) {
      throw new CaptureDeviceError('', `no interface is up with an address; name one to capture on (available: ${available.join(', ') || 'none'})`);
    }
    return defaults;
  }
  const names = [...new Set(requested)];
  for (const name of names) {
    if (name !== ANY_DEVICE && !interfaceExists(name, sysRoot)) {
      throw new CaptureDeviceError(name, `no such interface '${name}' (available: ${available.join(', ') || 'none'})`);
    }
  }
  return names;
}

function isIpv6LinkLocal(address: NetworkInterfaceInfo): boolean {
  return address.family === 'IPv6' && /^fe[89ab]/i.test(address.address);
}

/** Interface names never contain '/'; refusing them (and '.', '..') keeps reads inside sysRoot. */
export function isPlainInterfaceName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/');
}

function readFlags(sysRoot: string, name: string): number | undefined {
  if (!isPlainInterfaceName(name)) return undefined;
  const text = readSysFile(sysRoot, name, 'flags');
  const flags = text === undefined ? NaN : Number.parseInt(text, 16);
  return Number.isNaN(flags) ? undefined : flags;
}

function readSysFile(sysRoot: string, name: string, file: string): string | undefined {
  try {
    return readFileSync(join(sysRoot, name, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}
