// `netmeter snapshot`: writes which process owns each socket right now (or in a /proc
// snapshot directory) as JSON, for `replay --sockets` beside a capture made elsewhere.

import { writeFile } from 'node:fs/promises';
import { ProcFs } from '../attribute/proc/proc-fs.js';
import { serializeSocketSnapshot, takeSocketSnapshot } from '../attribute/socket-snapshot.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';
import { HELP_OPTION, parseCommandLine, renderHelp, type CommandSpec } from './command-line.js';

export const SNAPSHOT_COMMAND = {
  name: 'snapshot',
  synopsis: 'snapshot [-o FILE] [--proc-root DIR]',
  summary: 'write socket ownership as JSON, for replay --sockets',
  description: `Writes the sockets of this host (or of a /proc snapshot directory) and the processes
that own them as JSON, for 'netmeter replay CAPTURE --sockets FILE'. Run it as root to
see every user's processes.`,
  operands: 'none',
  options: [
    { name: 'output', short: 'o', type: 'string', value: 'FILE', complete: 'file', help: 'write to FILE instead of standard output' },
    { name: 'proc-root', type: 'string', value: 'DIR', complete: 'directory', help: 'read this /proc snapshot directory instead of /proc' },
    HELP_OPTION,
  ],
} as const satisfies CommandSpec;

export const SNAPSHOT_HELP = renderHelp(SNAPSHOT_COMMAND);

export async function runSnapshot(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(SNAPSHOT_COMMAND, argv);
  if (values.help) {
    io.stdout.write(SNAPSHOT_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const text = serializeSocketSnapshot(await takeSocketSnapshot(new ProcFs(values['proc-root'] ?? '/proc')));
  if (values.output) await writeFile(values.output, text);
  else io.stdout.write(text);
  return 0;
}
