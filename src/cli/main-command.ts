// `netmeter` itself: its command list and options as a table (command-line.ts), its help,
// and its version. Light on purpose: main.ts loads it on every run.

import { readFileSync } from 'node:fs';
import { HELP_OPTION, optionHelpLines, type CommandSpec } from './command-line.js';

/** Every command, for the help's list, the man page and the completion. */
export const COMMANDS: ReadonlyArray<{ name: string; synopsis: string; summary: string }> = [
  { name: 'live', synopsis: '(none)', summary: 'live view of which programs use the network' },
  { name: 'replay', synopsis: 'replay FILE', summary: 'account a pcap/pcapng capture' },
  { name: 'record', synopsis: 'record -o FILE', summary: 'capture to pcapng with socket ownership' },
  { name: 'snapshot', synopsis: 'snapshot', summary: 'write socket ownership as JSON, for replay --sockets' },
  { name: 'daemon', synopsis: 'daemon', summary: 'record usage history for reports' },
  { name: 'report', synopsis: 'report', summary: 'usage history by application, day, month; cost' },
  { name: 'alerts', synopsis: 'alerts', summary: 'incidents, test messages, silences' },
  { name: 'speedtest', synopsis: 'speedtest [URL]', summary: 'download/upload speed, latency, jitter' },
  { name: 'speedtest-server', synopsis: 'speedtest-server', summary: 'serve speed tests to netmeter, LibreSpeed and Cloudflare-style clients' },
  { name: 'completion', synopsis: 'completion', summary: 'print the bash completion script' },
];

export const MAIN_COMMAND = {
  name: '',
  synopsis: '[command] [options]',
  summary: 'per-process network usage: live, replayed, recorded, reported',
  description: 'Which program is using the network, how much, and what does it cost.',
  operands: 'none',
  options: [
    { name: 'debug', type: 'boolean', help: 'show the full error when something fails' },
    { name: 'version', type: 'boolean', help: "print netmeter's version" },
    HELP_OPTION,
  ],
} as const satisfies CommandSpec;

export function renderMainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.synopsis.length)) + 2;
  const commands = COMMANDS.map((c) => {
    const more = c.name === 'completion' ? '' : ` (netmeter ${c.name} --help)`;
    return `  ${c.synopsis.padEnd(width)} ${c.summary}${more}`;
  });
  return [
    `Usage: netmeter ${MAIN_COMMAND.synopsis}`,
    '',
    'Commands:',
    ...commands,
    '',
    'Options:',
    ...MAIN_COMMAND.options.flatMap(optionHelpLines),
    '',
  ].join('\n');
}

/** The package's version, from the package.json installed beside dist/. */
export function netmeterVersion(): string {
  const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}
