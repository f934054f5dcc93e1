// Whether this process may open packet sockets, and the error that tells a user how to
// get the privileges when it may not.

import { readFileSync } from 'node:fs';
import { NetmeterError } from '../errors.js';

const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;

/** Capturing needs privileges this process lacks; the message says how to get them. */
export class PrivilegeError extends NetmeterError {
  override name = 'PrivilegeError';
  constructor(readonly device: string) {
    super(
      `capturing on ${device} needs privileges: run with sudo, or grant them once with: ` +
        'sudo setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node)) ' +
        "(add cap_sys_ptrace,cap_dac_read_search to that list to see other users' processes)",
    );
  }
}

/** True when a /proc/PID/status text's effective set holds CAP_NET_RAW and CAP_NET_ADMIN. */
export function statusGrantsCapture(statusText: string): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)\s*$/im.exec(statusText)?.[1];
  if (hex === undefined) return false;
  const effective = BigInt(`0x${hex}`);
  return ((effective >> CAP_NET_RAW) & 1n) === 1n && ((effective >> CAP_NET_ADMIN) & 1n) === 1n;
}

/**
 * True when this process can capture. The effective capability set decides, not the uid:
 * root in a container started with --cap-drop=NET_RAW cannot capture, and a node binary
 * given file capabilities can without being root. Without /proc the uid is all we know.
 */
export function hasCapturePrivilege(statusPath = '/proc/self/status'): boolean {
  let status: string;
  try {
    status = readFileSync(statusPath, 'utf8');
  } catch {
    return process.getuid?.() === 0;
  }
  return statusGrantsCapture(status);
}

/**
 * What a capturing command calls before it creates anything (the daemon's database and its
 * directory): a PrivilegeError when this process cannot capture. By the effective
 * capabilities, so a node given them with setcap, or a root service limited by systemd's
 * CapabilityBoundingSet, passes, and root without CAP_NET_RAW does not.
 */
export function checkCapturePrivileges(interfaces: readonly string[], statusPath?: string): void {
  if (!hasCapturePrivilege(statusPath)) throw new PrivilegeError(interfaces.length > 0 ? interfaces.join(', ') : 'the network interfaces');
}
