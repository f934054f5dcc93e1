// Option values shared by several commands, parsed into what the pipeline needs or a
// UsageError that says what was wrong.

import { parseCidr, type Cidr } from '../decode/address.js';
import type { SortKey } from '../present/usage-table.js';
import { UsageError } from './usage-error.js';

export function parseCidrList(text: string): Cidr[] {
  return text
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const cidr = parseCidr(part);
      if (!cidr) throw new UsageError(`--local: '${part.trim()}' is not an address or CIDR (e.g. 198.18.0.0/15,fd00::/8)`);
      return cidr;
    });
}

export function parseSortKey(text: string | undefined): SortKey {
  const key = text ?? 'total';
  if (key !== 'sent' && key !== 'received' && key !== 'total') {
    throw new UsageError(`--sort: '${key}' is not one of sent, received, total`);
  }
  return key;
}

export function parsePositiveInteger(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name}: '${text}' is not a positive whole number`);
  return Number(text);
}

/** "30s", "5m", "2h", "1d" or plain seconds → seconds. */
export function parseDuration(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--${name}: '${text}' is not a duration (e.g. 30s, 5m, 1h)`);
  const scale = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? 's']!;
  const seconds = Number(match[1]) * scale;
  if (!(seconds > 0)) throw new UsageError(`--${name}: must be more than zero`);
  return seconds;
}

export function parseEngine(text: string | undefined): 'native' | 'cap' | undefined {
  if (text === undefined) return undefined;
  if (text !== 'native' && text !== 'cap') throw new UsageError(`--engine: '${text}' is not one of native, cap`);
  return text;
}
