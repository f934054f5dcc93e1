// The capture options that `netmeter` (live), `netmeter record` and `netmeter daemon`
// share, declared once and parsed into what the capture session takes.

import type { ParseArgsConfig } from 'node:util';
import type { CaptureSessionOptions } from '../session/capture-session.js';
import { parseCidrList, parseEngine } from './options.js';

/** What the capture options set of a session's options. */
export type LiveCaptureOptions = Pick<CaptureSessionOptions, 'interfaces' | 'engine' | 'promisc' | 'filter' | 'localCidrs'>;

/** The options of every capturing command, to spread into its parseArgs options. */
export const captureOptions = {
  interface: { type: 'string', short: 'i', multiple: true, default: [] as string[] },
  filter: { type: 'string' },
  engine: { type: 'string' },
  promisc: { type: 'boolean', default: false },
  local: { type: 'string' },
} satisfies ParseArgsConfig['options'];

/**
 * The help lines of captureOptions but --local (each command places that line itself).
 * What -i does when not given is in each command's words, a line per argument.
 */
export function captureOptionsHelp(...interfaceDefault: string[]): string {
  return `  -i, --interface IF   capture on IF (repeatable; ${interfaceDefault.join(`\n${' '.repeat(23)}`)})
  --filter BPF         capture filter, tcpdump syntax
  --engine E           native (default when built) or cap: the capture engine
  --promisc            put the interfaces in promiscuous mode (see other hosts' traffic)`;
}

export const LOCAL_OPTION_HELP = "  --local CIDRS        more addresses to treat as this host's";

/** captureOptions' parsed values, checked: a bad --engine or --local is a one-line UsageError. */
export function liveCaptureOptions(values: { interface: string[]; filter?: string; engine?: string; promisc: boolean; local?: string }): LiveCaptureOptions {
  return {
    interfaces: values.interface,
    engine: parseEngine(values.engine),
    promisc: values.promisc,
    localCidrs: values.local === undefined ? [] : parseCidrList(values.local),
    ...(values.filter ? { filter: values.filter } : {}),
  };
}
