#!/usr/bin/env node
// netmeter's entry point: picks the command and turns every error into one line on stderr
// and an exit code (2 for usage, 1 otherwise); a stack trace only with --debug.

import { runReplay } from './replay.js';
import { runLive } from './live.js';
import { runRecord } from './record.js';
import { runSnapshot } from './snapshot.js';
import { UsageError } from './usage-error.js';
import { NetmeterError } from '../errors.js';

const HELP = `Usage: netmeter [command] [options]

Commands:
  (none)             live view of which programs use the network (netmeter live --help)
  replay FILE        account a pcap/pcapng capture (netmeter replay --help)
  record -o FILE     capture to pcapng with socket ownership (netmeter record --help)
  snapshot           write socket ownership as JSON, for replay --sockets

Options:
  --debug            show the full error when something fails
  -h, --help         this help
`;

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const io = { stdout: process.stdout, stderr: process.stderr };
  try {
    const [command, ...rest] = args;
    switch (command) {
      case 'replay':
        return await runReplay(rest, io);
      case 'snapshot':
        return await runSnapshot(rest, io);
      case 'record':
        return await runRecord(rest, io);
      case 'live':
        return await runLive(rest, { ...io, isTTY: Boolean(process.stdout.isTTY && process.stdin.isTTY) });
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return 0;
      default:
        // Options without a command, or nothing at all: the live view, like `sudo nethogs`.
        if (command === undefined || command.startsWith('-')) {
          return await runLive(args, { ...io, isTTY: Boolean(process.stdout.isTTY && process.stdin.isTTY) });
        }
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    return reportError(error, debug);
  }
}

function reportError(error: unknown, debug: boolean): number {
  if (debug) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  // parseArgs throws TypeErrors with codes ERR_PARSE_ARGS_*: they are usage errors too.
  const code = (error as NodeJS.ErrnoException)?.code ?? '';
  if (error instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`netmeter: ${(error as Error).message}\nTry 'netmeter --help'.\n`);
    return 2;
  }
  // An expected error's message is the whole story; anything else is a bug worth a report.
  const expected = error instanceof NetmeterError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`netmeter: ${message}${expected || debug ? '' : ' (unexpected: run with --debug for details)'}\n`);
  return 1;
}

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
