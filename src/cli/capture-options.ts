// The capture options that `netmeter` (live), `netmeter record` and `netmeter daemon`
// share, declared once and parsed into what the capture session takes.

import type { CaptureSessionOptions } from '../session/capture-session.js';
import type { OptionSpec } from './command-line.js';
import { parseCidrList, parseEngine } from './options.js';

/** What the capture options set of a session's options. */
export type LiveCaptureOptions = Pick<CaptureSessionOptions, 'interfaces' | 'engine' | 'promisc' | 'filter' | 'localCidrs'>;

/** -i, whose default each capturing command says in its own words. */
export function interfaceOption<const H extends string>(help: H) {
  return { name: 'interface', short: 'i', type: 'string', multiple: true, value: 'IF', complete: 'interface', help } as const satisfies OptionSpec;
}

/** The capture options after -i, the same in every capturing command. */
export const CAPTURE_OPTIONS = [
  { name: 'filter', type: 'string', value: 'BPF', help: 'capture filter, tcpdump syntax' },
  { name: 'engine', type: 'string', value: 'E', complete: ['native', 'cap'], help: 'native (default when built) or cap: the capture engine' },
  { name: 'promisc', type: 'boolean', help: "put the interfaces in promiscuous mode (see other hosts' traffic)" },
] as const satisfies readonly OptionSpec[];

export const LOCAL_OPTION = { name: 'local', type: 'string', value: 'CIDRS', help: "more addresses to treat as this host's" } as const satisfies OptionSpec;

/** The capture options' parsed values, checked: a bad --engine or --local is a one-line UsageError. */
export function liveCaptureOptions(values: { interface: string[]; filter?: string; engine?: string; promisc: boolean; local?: string }): LiveCaptureOptions {
  return {
    interfaces: values.interface,
    engine: parseEngine(values.engine),
    promisc: values.promisc,
    localCidrs: values.local === undefined ? [] : parseCidrList(values.local),
    ...(values.filter ? { filter: values.filter } : {}),
  };
}
