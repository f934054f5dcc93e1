// netmeter(1), the man page, made from the same tables as each command's --help
// (command-tables.ts), so the two cannot disagree. `npm run man` writes docs/netmeter.1;
// a test fails when the committed page is not what the tables make.

import type { CommandSpec, OptionSpec } from './command-line.js';
import { COMMANDS } from './main-command.js';

/** Text for roff: backslashes escaped, a line starting with . or ' kept from being a request. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

function optionItem(option: OptionSpec): string[] {
  const long = `\\fB\\-\\-${roff(option.name)}\\fR`;
  const value = option.value ? ` \\fI${roff(option.value)}\\fR` : '';
  const flags = option.short ? `\\fB\\-${option.short}\\fR, ${long}${value}` : `${long}${value}`;
  return ['.TP', flags, roff(option.help.replace(/\n/g, ' '))];
}

function optionList(command: CommandSpec): string[] {
  const out: string[] = [];
  for (const option of command.options) {
    if (option.hidden) continue;
    if (option.group) out.push('.PP', `\\fI${roff(option.group)}\\fR`);
    out.push(...optionItem(option));
  }
  return out;
}

export function renderManPage(tables: CommandSpec[], version: string): string {
  const main = tables.find((t) => t.name === '')!;
  const byName = new Map(tables.map((t) => [t.name, t]));
  const lines = [
    `.TH NETMETER 1 "" "netmeter ${roff(version)}" "User Commands"`,
    '.SH NAME',
    `netmeter \\- ${roff(main.summary)}`,
    '.SH SYNOPSIS',
    ...COMMANDS.map((c) => `.B ${c.name === 'live' ? 'netmeter' : `netmeter ${c.name}`}\n[\\fIoptions\\fR]${c.name === 'replay' ? ' \\fIFILE\\fR' : ''}\n.br`),
    '.SH DESCRIPTION',
    roff(main.description),
    'Without a command, netmeter shows the live view.',
    '.SH OPTIONS',
    ...optionList(main),
    '.SH COMMANDS',
  ];
  for (const command of COMMANDS) {
    const table = byName.get(command.name);
    lines.push(`.SS ${command.name}`);
    if (!table) {
      lines.push(`${roff(command.summary)}.`, `Its options: \\fBnetmeter ${command.name} \\-\\-help\\fR.`);
      continue;
    }
    lines.push(`\\fBnetmeter ${roff(table.synopsis)}\\fR`, '.PP', roff(table.description.replace(/\n/g, ' ')), ...optionList(table));
    if (table.epilog) lines.push('.PP', roff(table.epilog));
  }
  lines.push(
    '.SH FILES',
    '.TP',
    roff('/var/lib/netmeter/netmeter.db'),
    roff("the daemon's history database when run as root (else $XDG_STATE_HOME/netmeter/netmeter.db)"),
    '.TP',
    roff('/etc/netmeter/config.json'),
    roff('price, currency, billing day, quota, billed interfaces and retention (docs/history.md)'),
    '.SH SEE ALSO',
    '\\fBtcpdump\\fR(8), \\fBnethogs\\fR(8), \\fBvnstat\\fR(1), \\fBpcap\\-filter\\fR(7)',
  );
  return `${lines.join('\n')}\n`;
}
