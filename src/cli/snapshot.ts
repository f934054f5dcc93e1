// `netmeter snapshot`: writes which process owns each socket right now (or in a /proc
// snapshot directory) as JSON, for `replay --sockets` beside a capture made elsewhere.

import { parseArgs } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { ProcFs } from '../attribute/proc/proc-fs.js';
import { serializeSocketSnapshot, takeSocketSnapshot } from '../attribute/socket-snapshot.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

export const SNAPSHOT_HELP = `Usage: netmeter snapshot [-o FILE] [--proc-root DIR]

Writes the sockets of this host (or of a /proc snapshot directory) and the processes
that own them as JSON, for 'netmeter replay CAPTURE --sockets FILE'. Run it as root to
see every user's processes.
`;

export async function runSnapshot(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      'proc-root': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
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
