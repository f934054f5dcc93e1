// The capture options that `netmeter` (live), `netmeter record` and `netmeter daemon`
// share (and the subscriber ones of live and daemon), declared once and parsed into what the capture session takes.

import type { CaptureSessionOptions } from '../session/capture-session.js';
import type { OptionSpec } from './command-line.js';
import { parseCidrList, parseEngine } from './options.js';
import { UsageError } from './usage-error.js';
import { DEFAULT_IPV6_PREFIX } from '../attribute/subscribers.js';

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

/** `--by host` and its IPv6 grouping: per-subscriber accounting (live and daemon). */
export const SUBSCRIBER_OPTIONS = [
  { name: 'by', type: 'string', value: 'host', complete: ['host'], help: "count per subscriber (the local end's address, IPv6 by prefix)\ninstead of per process; name their networks with --local" },
  { name: 'ipv6-prefix', type: 'string', value: 'N', help: 'with --by host: IPv6 subscribers are grouped by their /N (default 64)' },
] as const satisfies readonly OptionSpec[];

/** The subscriber options' parsed values: a bad --by or --ipv6-prefix is a one-line UsageError. */
export function subscriberOptions(values: { by?: string; 'ipv6-prefix'?: string }): Pick<CaptureSessionOptions, 'byHost'> {
  if (values.by === undefined) {
    if (values['ipv6-prefix'] !== undefined) throw new UsageError('--ipv6-prefix goes with --by host');
    return {};
  }
  if (values.by !== 'host') throw new UsageError(`--by: '${values.by}' is not host (per process is the default)`);
  const text = values['ipv6-prefix'] ?? String(DEFAULT_IPV6_PREFIX);
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 128) throw new UsageError(`--ipv6-prefix: '${text}' is not a prefix length from 1 to 128 (e.g. 64)`);
  return { byHost: { ipv6Prefix: Number(text) } };
}
