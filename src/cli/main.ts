#!/usr/bin/env -S node --max-semi-space-size=4
// netmeter's entry point: picks the command and turns every error into one line on stderr
// and an exit code (2 for usage, 1 otherwise); a stack trace only with --debug.

import { UsageError } from './usage-error.js';
import { NetmeterError } from '../errors.js';
import { usageErrorOf } from './command-line.js';
import { netmeterVersion, renderMainHelp } from './main-command.js';

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const io = { stdout: process.stdout, stderr: process.stderr };
  const [command, ...rest] = args;
  // Each command's module is loaded when it runs: a replay need not load Ink or SQLite.
  try {
    switch (command) {
      case 'replay':
        return await (await import('./replay.js')).runReplay(rest, io);
      case 'snapshot':
        return await (await import('./snapshot.js')).runSnapshot(rest, io);
      case 'record':
        return await (await import('./record.js')).runRecord(rest, io);
      case 'daemon':
        return await (await import('./daemon.js')).runDaemon(rest, io);
      case 'report':
        return await (await import('./report.js')).runReport(rest, io);
      case 'alerts':
        return await (await import('./alerts.js')).runAlerts(rest, io);
      case 'live':
        return await startLive(rest, io);
      case 'completion':
        return await (await import('./completion.js')).runCompletion(rest, io);
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(renderMainHelp());
        return 0;
      case '--version':
        process.stdout.write(`netmeter ${netmeterVersion()}\n`);
        return 0;
      default:
        // Options without a command, or nothing at all: the live view, like `sudo nethogs`.
        if (command === undefined || command.startsWith('-')) return await startLive(args, io);
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    return reportError(error, debug, commandName(command));
  }
}

/**
 * Loads the live view only when it is asked for. On a terminal, variables that say "CI"
 * are dropped first: Ink reads them when it loads and then draws nothing until it exits,
 * which on a person's terminal is a blank screen.
 */
async function startLive(args: string[], io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<number> {
  const isTTY = Boolean(process.stdout.isTTY && process.stdin.isTTY);
  if (isTTY) {
    for (const name of Object.keys(process.env)) {
      if (name === 'CI' || name === 'CONTINUOUS_INTEGRATION' || name.startsWith('CI_')) delete process.env[name];
    }
  }
  const { runLive } = await import('./live.js');
  return runLive(args, { ...io, isTTY });
}

/** The command that ran, as its --help is asked for: '' for netmeter itself. */
function commandName(command: string | undefined): string {
  if (command === undefined || command.startsWith('-')) return 'live';
  return ['replay', 'snapshot', 'record', 'daemon', 'report', 'live', 'completion'].includes(command) ? command : '';
}

function reportError(error: unknown, debug: boolean, command: string): number {
  if (debug) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  // parseArgs throws TypeErrors with codes ERR_PARSE_ARGS_*: usage errors in Node's words.
  const usage = error instanceof UsageError ? error : usageErrorOf(error, command);
  if (usage) {
    const which = usage.command ?? command;
    process.stderr.write(`netmeter: ${usage.message}\nTry 'netmeter ${which ? `${which} ` : ''}--help'.\n`);
    return 2;
  }
  // An expected error's message is the whole story; anything else is a bug worth a report.
  const expected = error instanceof NetmeterError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`netmeter: ${message}${expected || debug ? '' : ' (unexpected: run with --debug for details)'}\n`);
  return 1;
}

// A reader that stops early (`netmeter replay x --json | head`) closes the pipe: that is the
// end of the output, not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
