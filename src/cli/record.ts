// `sudo netmeter record -o FILE.pcapng`: writes the capture with the socket ownership seen
// while recording (a snapshot per re-read of /proc, as pcapng custom blocks), so that
// `netmeter replay FILE.pcapng` shows the same per-process result on any machine.

import { PcapngWriter } from '../capture/pcapng-writer.js';
import { serializeSocketSnapshot } from '../attribute/socket-snapshot.js';
import type { SocketSnapshot } from '../attribute/types.js';
import { renderUsageTable } from '../present/usage-table.js';
import { parseDuration } from './options.js';
import type { CommandIo } from './replay.js';
import type { PacketBatch } from '../capture/packet-batch.js';
import { CaptureSession } from '../session/capture-session.js';
import { stopControl } from '../session/stop-control.js';
import { systemSessionIo } from '../session/system-io.js';
import { CAPTURE_OPTIONS, interfaceOption, liveCaptureOptions, LOCAL_OPTION } from './capture-options.js';
import { HELP_OPTION, parseCommandLine, renderHelp, type CommandSpec } from './command-line.js';
import { UsageError } from './usage-error.js';

export const RECORD_COMMAND = {
  name: 'record',
  synopsis: 'record -o FILE.pcapng [options]',
  privileged: true,
  summary: 'capture to pcapng with socket ownership',
  description: 'Captures to a pcapng file that also holds which process owned each socket.',
  operands: 'none',
  options: [
    { name: 'output', short: 'o', type: 'string', value: 'FILE', complete: 'file', help: 'where to write (pcapng)' },
    interfaceOption('capture on IF (repeatable; default as for the live view)'),
    ...CAPTURE_OPTIONS,
    { name: 'duration', type: 'string', value: 'D', help: 'stop after D (30s, 5m); otherwise at Ctrl-C' },
    LOCAL_OPTION,
    HELP_OPTION,
  ],
} as const satisfies CommandSpec;

export const RECORD_HELP = renderHelp(RECORD_COMMAND);

export async function runRecord(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(RECORD_COMMAND, argv);
  if (values.help) {
    io.stdout.write(RECORD_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.output) throw new UsageError('record needs an output file: -o FILE.pcapng');
  const durationSeconds = parseDuration('duration', values.duration);
  const capture = liveCaptureOptions(values);

  // Snapshots taken before the writer exists (the first one) wait here, so none is lost.
  const waiting: SocketSnapshot[] = [];
  let writer: PcapngWriter | undefined;
  let writes = Promise.resolve();
  const embed = (snapshot: SocketSnapshot) => {
    if (!writer) return void waiting.push(snapshot);
    const w = writer;
    writes = writes.then(() => w.writeAttachment(serializeSocketSnapshot(snapshot)));
  };
  const write = async (batch: PacketBatch) => {
    await writes;
    writes = writer!.write(batch);
  };
  const session = await CaptureSession.start({ ...capture, everyPacket: true, keepRetired: true, tickSeconds: 1, onSnapshot: embed, onBatch: write }, systemSessionIo());
  writer = new PcapngWriter(values.output);
  for (const snapshot of waiting.splice(0)) embed(snapshot);

  await stopControl(session, durationSeconds).stopped;
  // Stopping reads /proc once more: the last word on ownership, embedded like the others.
  const failure = await session.stop();
  await writes;
  await writer.close();
  if (failure) throw failure;
  const report = session.report({ wholeRun: true });
  io.stderr.write(`netmeter: wrote ${report.totals.packets} packets to ${values.output}\n`);
  io.stdout.write(renderUsageTable(report, { sort: 'total' }));
  return 0;
}
