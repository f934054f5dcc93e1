#!/usr/bin/env -S node --max-semi-space-size=4
// netmeter's entry point: picks the command and turns every error into one line on stderr
// and an exit code (2 for usage, 1 otherwise); a stack trace only with --debug.

import { UsageError } from './usage-error.js';
import { NetmeterError } from '../errors.js';

const HELP = `Usage: netmeter [command] [options]

Commands:
  (none)             live view of which programs use the network (netmeter live --help)
  replay FILE        account a pcap/pcapng capture (netmeter replay --help)
  record -o FILE     capture to pcapng with socket ownership (netmeter record --help)
  snapshot           write socket ownership as JSON, for replay --sockets
  daemon             record usage history for reports (netmeter daemon --help)
  report             usage history by application, day, month; cost (netmeter report --help)
  speedtest [URL]    download/upload speed, latency, jitter (netmeter speedtest --help)
  speedtest-server   serve speed tests to netmeter, LibreSpeed and Cloudflare-style clients

Options:
  --debug            show the full error when something fails
  -h, --help         this help
`;

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const io = { stdout: process.stdout, stderr: process.stderr };
  // Each command's module is loaded when it runs: a replay need not load Ink or SQLite.
  try {
    const [command, ...rest] = args;
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
      case 'speedtest':
        return await (await import('./speedtest.js')).runSpeedtestCommand(rest, { ...io, isTTY: Boolean(process.stderr.isTTY) });
      case 'speedtest-server':
        return await (await import('./speedtest-server.js')).runSpeedtestServer(rest, io);
      case 'live':
        return await startLive(rest, io);
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return 0;
      default:
        // Options without a command, or nothing at all: the live view, like `sudo nethogs`.
        if (command === undefined || command.startsWith('-')) return await startLive(args, io);
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    return reportError(error, debug);
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
