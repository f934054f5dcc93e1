// Each command's options declared once — name, type, value, help text — and everything made
// from that one table: the parseArgs options, the --help text, the man page (man-page.ts)
// and the bash completion (completion.ts). Also the one place that turns parseArgs' errors
// into a usage error that names the option and the command whose --help to read.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

/** What a shell may complete an option's value with. */
export type ValueCompletion = 'file' | 'directory' | 'interface' | readonly string[];

export interface OptionSpec {
  /** The long name, without the dashes. */
  readonly name: string;
  readonly short?: string;
  readonly type: 'boolean' | 'string';
  /** Given more than once: a list (string options only). */
  readonly multiple?: boolean;
  /** The value's name in the help text (FILE, N); brackets when it may be left out ([YYYY-MM]). */
  readonly value?: string;
  /** The help text; a '\n' starts a continuation line under the first. */
  readonly help: string;
  /** A heading the option starts (report's "Range (one of):"); the options after it belong to it. */
  readonly group?: string;
  /** Parsed but not shown in help, man page or completion (switches for tests). */
  readonly hidden?: boolean;
  readonly complete?: ValueCompletion;
}

export interface CommandSpec {
  /** As typed after `netmeter` ('' for the live view, which needs no command word). */
  readonly name: string;
  /** The Usage: line's text after `netmeter`, e.g. 'replay FILE [options]'. */
  readonly synopsis: string;
  /** Runs as root (sudo in the usage line). */
  readonly privileged?: boolean;
  /** One line for the command list. */
  readonly summary: string;
  /** The paragraph under the Usage: line. */
  readonly description: string;
  /** Text after the options (notes, examples); optional. */
  readonly epilog?: string;
  /** Positional arguments the shell completes with: capture files, nothing, ... */
  readonly operands?: 'file' | 'none';
  readonly options: readonly OptionSpec[];
}

/** -h/--help, which every command takes. */
export const HELP_OPTION = { name: 'help', short: 'h', type: 'boolean', help: 'this help' } as const satisfies OptionSpec;

type ValueOf<O extends OptionSpec> = O['type'] extends 'boolean'
  ? boolean
  : O['multiple'] extends true
    ? string[]
    : string | undefined;

/** parseArgs' values for a table: booleans default to false, lists to []. */
export type OptionValues<T extends readonly OptionSpec[]> = { [O in T[number] as O['name']]: ValueOf<O> };

export function parseArgsOptions(options: readonly OptionSpec[]): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const o of options) {
    out[o.name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
      ...(o.type === 'boolean' ? { default: false } : o.multiple ? { default: [] } : {}),
    };
  }
  return out;
}

/**
 * argv parsed by the command's table; a mistake is a UsageError naming the option and the
 * command (`unknown option '--frobnicate'`, then "Try 'netmeter replay --help'").
 */
export function parseCommandLine<const T extends readonly OptionSpec[]>(
  command: { readonly name: string; readonly options: T },
  argv: string[],
): { values: OptionValues<T>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: parseArgsOptions(command.options) });
    return { values: values as OptionValues<T>, positionals };
  } catch (error) {
    throw usageErrorOf(error, command.name) ?? error;
  }
}

/**
 * parseArgs throws TypeErrors whose text (Node's, with a suggestion in unbalanced quotes)
 * is for programmers: the same mistake in a user's words, or undefined when it is not one
 * of parseArgs' errors.
 */
export function usageErrorOf(error: unknown, command: string): UsageError | undefined {
  const code = (error as NodeJS.ErrnoException)?.code ?? '';
  if (!code.startsWith('ERR_PARSE_ARGS')) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  // "Option '-o, --output <value>'": the long name is what the user knows from the help.
  const option = quoted.replace(/ <value>$/, '').split(', ').pop() ?? quoted;
  let text: string;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      text = `unknown option '${option}'`;
      break;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      text = `unexpected argument '${quoted}'`;
      break;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      text = /argument missing/.test(message) ? `option '${option}' needs a value` : `option '${option}' takes no value`;
      break;
    default:
      text = message.split('. ')[0]!;
  }
  return new UsageError(text, command);
}

/** The help text: Usage line, description, options (by group), epilog. */
export function renderHelp(command: CommandSpec): string {
  const lines = [`Usage: ${command.privileged ? 'sudo ' : ''}netmeter ${command.synopsis}`, '', command.description.trimEnd(), ''];
  for (const option of command.options) {
    if (option.hidden) continue;
    if (option.group) lines.push(option.group);
    lines.push(...optionHelpLines(option));
  }
  if (command.epilog) lines.push('', command.epilog.trimEnd());
  return `${lines.join('\n')}\n`;
}

const FLAG_WIDTH = 21;

/** `-i, --interface IF` — the option as typed, with its value. */
export function optionFlags(option: OptionSpec): string {
  const long = `--${option.name}${option.value ? ` ${option.value}` : ''}`;
  return option.short ? `-${option.short}, ${long}` : long;
}

export function optionHelpLines(option: OptionSpec): string[] {
  const flags = optionFlags(option);
  const [first, ...more] = option.help.split('\n');
  const head = flags.length < FLAG_WIDTH ? `  ${flags.padEnd(FLAG_WIDTH)}${first}` : `  ${flags}  ${first}`;
  return [head, ...more.map((line) => `${' '.repeat(FLAG_WIDTH + 2)}${line}`)];
}
