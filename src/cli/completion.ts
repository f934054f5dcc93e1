// `netmeter completion`: the bash completion script, made from the same tables as each
// command's --help (command-tables.ts). Install it with
//   netmeter completion > /etc/bash_completion.d/netmeter
// or `source <(netmeter completion)` in ~/.bashrc.

import { optionFlags, type CommandSpec, type OptionSpec } from './command-line.js';
import { COMMANDS } from './main-command.js';
import { commandTables } from './command-tables.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

export const COMPLETION_HELP = `Usage: netmeter completion [bash]

Prints the bash completion script for netmeter. Install it with
  netmeter completion > /etc/bash_completion.d/netmeter
or add 'source <(netmeter completion)' to ~/.bashrc.
`;

export async function runCompletion(argv: string[], io: CommandIo): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.stdout.write(COMPLETION_HELP);
    return 0;
  }
  const shell = argv[0] ?? 'bash';
  if (argv.length > 1 || shell !== 'bash') throw new UsageError(`completion: only bash is supported (got '${argv.join(' ')}')`);
  io.stdout.write(renderBashCompletion(commandTables()));
  return 0;
}

const quoteWords = (words: readonly string[]) => words.join(' ').replace(/'/g, '');

/** The words an option may be typed as: --name and -x. */
function spellings(option: OptionSpec): string[] {
  return [`--${option.name}`, ...(option.short ? [`-${option.short}`] : [])];
}

/** A `case` arm completing the value after this command's options that take one. */
function valueArms(command: CommandSpec): string[] {
  const arms: string[] = [];
  for (const option of command.options) {
    // A value that may be left out ([YYYY-MM]): what follows may as well be another option.
    if (option.hidden || option.type !== 'string' || option.value?.startsWith('[')) continue;
    const pattern = spellings(option).map((s) => `${command.name || 'netmeter'}:${s}`).join('|');
    const c = option.complete;
    const action =
      c === 'file'
        ? 'COMPREPLY=($(compgen -f -- "$cur"))'
        : c === 'directory'
          ? 'COMPREPLY=($(compgen -d -- "$cur"))'
          : c === 'interface'
            ? 'COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))'
            : Array.isArray(c)
              ? `COMPREPLY=($(compgen -W '${quoteWords(c)}' -- "$cur"))`
              : 'COMPREPLY=()'; // a value only the user knows (a number, a date)
    arms.push(`    ${pattern}) ${action}; return ;;`);
  }
  return arms;
}

export function renderBashCompletion(tables: CommandSpec[]): string {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const main = byName.get('')!;
  // `netmeter live` completes like any command; `netmeter` alone offers the commands.
  const commandWords = COMMANDS.map((c) => c.name);
  const optionWords = (t: CommandSpec) => quoteWords(t.options.filter((o) => !o.hidden).flatMap((o) => optionFlags(o).split(/[ ,]+/).filter((w) => w.startsWith('-'))));
  const lines = [
    '# bash completion for netmeter, made by `netmeter completion` from its option tables.',
    '_netmeter() {',
    '  local cur prev cmd="" i',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    `    case "\${COMP_WORDS[i]}" in ${commandWords.join('|')}) cmd="\${COMP_WORDS[i]}"; break ;; esac`,
    '  done',
    '  case "${cmd:-netmeter}:$prev" in',
    ...tables.flatMap(valueArms),
    '  esac',
    '  local words',
    '  case "$cmd" in',
    ...tables.filter((t) => t.name !== '').map((t) => `    ${t.name}) words='${optionWords(t)}' ;;`),
    `    '') words='${quoteWords(commandWords)} ${optionWords(main)}' ;;`,
    '    *) words="--help" ;;',
    '  esac',
    '  if [[ $cur == -* || -z $cmd ]]; then',
    '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
  ];
  const fileCommands = tables.filter((t) => t.operands === 'file').map((t) => t.name);
  if (fileCommands.length > 0) {
    lines.push(`  elif [[ $cmd == @(${fileCommands.join('|')}) ]]; then`, '    COMPREPLY=($(compgen -f -- "$cur"))');
  }
  lines.push('  fi', '}', 'complete -o filenames -F _netmeter netmeter', '');
  return lines.join('\n');
}
