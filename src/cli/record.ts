// `sudo netmeter record -o FILE.pcapng`: writes the capture with the socket ownership seen
// while recording (a snapshot per re-read of /proc, as pcapng custom blocks), so that
// `netmeter replay FILE.pcapng` shows the same per-process result on any machine.

import { parseArgs } from 'node:util';
import { PcapngWriter } from '../capture/pcapng-writer.js';
import { serializeSocketSnapshot } from '../attribute/socket-snapshot.js';
import type { SocketSnapshot } from '../attribute/types.js';
import { buildUsageReport } from '../present/usage-report.js';
import { renderUsageTable } from '../present/usage-table.js';
import { parseDuration } from './options.js';
import type { CommandIo } from './replay.js';
import { captureOptions, captureOptionsHelp, liveCaptureOptions, LOCAL_OPTION_HELP, startLiveCapture } from './live-capture.js';
import { UsageError } from './usage-error.js';

export const RECORD_HELP = `Usage: sudo netmeter record -o FILE.pcapng [options]

Captures to a pcapng file that also holds which process owned each socket.

  -o, --output FILE    where to write (pcapng)
${captureOptionsHelp('default as for the live view')}
  --duration D         stop after D (30s, 5m); otherwise at Ctrl-C
${LOCAL_OPTION_HELP}
`;

export async function runRecord(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      ...captureOptions,
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
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
  const { devices, meter, attribution, source } = await startLiveCapture({ ...capture, everyPacket: true, onSnapshot: embed });
  writer = new PcapngWriter(values.output);
  for (const snapshot of waiting.splice(0)) embed(snapshot);

  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (durationSeconds !== undefined) setTimeout(stop, durationSeconds * 1000).unref();
  attribution.startPeriodicRefresh();
  const started = Date.now();
  const pump = (async () => {
    for await (const batch of source.batches()) {
      meter.ingest(batch);
      await writes;
      writes = writer.write(batch);
    }
  })();
  pump.then(stop, stop);

  await stopped;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await source.close();
  let failure: unknown;
  await pump.catch((error: unknown) => (failure = error));
  // The last word on ownership: sockets that opened after the previous re-read.
  await attribution.refresh();
  attribution.close();
  await writes;
  await writer.close();
  if (failure) throw failure;
  const report = buildUsageReport(meter, { kind: 'live', interfaces: devices }, (Date.now() - started) / 1000);
  io.stderr.write(`netmeter: wrote ${report.totals.packets} packets to ${values.output}\n`);
  io.stdout.write(renderUsageTable(report, { sort: 'total' }));
  return 0;
}
