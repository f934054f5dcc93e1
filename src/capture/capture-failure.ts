// What went wrong with a live capture, said once for both engines: a device that does not
// exist, privileges, a bad filter, an interface that is down or was removed. The native
// engine reports an errno-like code; cap only libpcap's text, which failureCodeOf reads.

import { CaptureDeviceError, interfaceExists, interfaceIsUp } from './capture-interfaces.js';
import { PrivilegeError } from './privilege.js';

export type CaptureFailureCode = 'EPERM' | 'ENODEV' | 'ENETDOWN' | 'EFILTER';

export interface CaptureFailure {
  /** Undefined when the engine could not say. */
  code?: CaptureFailureCode | string;
  message: string;
  /** True when the device never started capturing. */
  opening: boolean;
  filter?: string;
  sysRoot?: string;
}

/** Checked before an engine starts: libpcap's own words for a missing device vary. */
export function checkCaptureDevice(device: string, sysRoot = '/sys/class/net'): void {
  if (device !== 'any' && !interfaceExists(device, sysRoot)) {
    throw new CaptureDeviceError(device, `no such interface '${device}' (see ip link)`);
  }
}

/** The code of a libpcap open-failure message. */
export function failureCodeOf(message: string, filter = ''): CaptureFailureCode | undefined {
  if (/not permitted|permission|EPERM|EACCES/i.test(message)) return 'EPERM';
  if (/no such device|doesn't exist|does not exist/i.test(message)) return 'ENODEV';
  if (/network is down|not up/i.test(message)) return 'ENETDOWN';
  if (filter !== '' && /syntax|filter|parse|illegal|unknown/i.test(message)) return 'EFILTER';
  return undefined;
}

/** The typed, one-line error for a device that failed to open or stopped. */
export function captureFailure(device: string, failure: CaptureFailure): Error {
  const { message, opening } = failure;
  switch (failure.code) {
    case 'EPERM':
      return new PrivilegeError(device);
    case 'ENODEV':
      return new CaptureDeviceError(device, `no such interface '${device}' (see ip link)`);
    case 'ENETDOWN':
      return new CaptureDeviceError(device, `interface '${device}' is down (bring it up with: sudo ip link set ${device} up)`);
    case 'EFILTER':
      return new CaptureDeviceError(device, `bad capture filter '${failure.filter ?? ''}': ${message}`);
    default:
      break;
  }
  if (opening) return new CaptureDeviceError(device, `cannot capture on '${device}': ${message}`);
  const sysRoot = failure.sysRoot ?? '/sys/class/net';
  const removed = /disappeared/i.test(message) || (device !== 'any' && !interfaceExists(device, sysRoot));
  if (removed) return new CaptureDeviceError(device, `capture on '${device}' stopped: the interface was removed`);
  const down = /went down/i.test(message) || (device !== 'any' && !interfaceIsUp(device, sysRoot));
  if (down) return new CaptureDeviceError(device, `capture on '${device}' stopped: the interface went down`);
  return new CaptureDeviceError(device, `capture on '${device}' stopped: ${message}`);
}
