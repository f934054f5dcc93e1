// `netmeter replay FILE`: a capture file through the same pipeline as live capture, with
// owners from a socket snapshot (--sockets, --proc-root) and local networks from --local.

import { readFile } from 'node:fs/promises';
import { Meter } from '../account/meter.js';
import type { Attribution } from '../account/attribution.js';
import { openCaptureFile } from '../capture/open-capture-file.js';
import { CaptureFileError } from '../capture/errors.js';
import type { SocketSnapshot } from '../attribute/types.js';
import { ProcFs } from '../attribute/proc/proc-fs.js';
import { emptySnapshot, mergeSocketSnapshots, parseSocketSnapshot, takeSocketSnapshot } from '../attribute/socket-snapshot.js';
import { PcapngFileSource } from '../capture/pcapng-file.js';
import { SocketResolver } from '../attribute/socket-resolver.js';
import { walkSocketOwners } from '../attribute/socket-owners.js';
import { buildUsageReport } from '../present/usage-report.js';
import { writeReportJson } from '../present/report-json.js';
import { renderUsageTable } from '../present/usage-table.js';
import { parseCidrList, parsePositiveInteger, parseSortKey } from './options.js';
import { UsageError } from './usage-error.js';
import { HELP_OPTION, parseCommandLine, renderHelp, type CommandSpec } from './command-line.js';
import type { Cidr } from '../decode/address.js';
import { SubscriberAttribution } from '../attribute/subscribers.js';
import { SUBSCRIBER_OPTIONS, subscriberOptions } from './capture-options.js';

export const REPLAY_COMMAND = {
  name: 'replay',
  synopsis: 'replay FILE [options]',
  summary: 'account a pcap/pcapng capture',
  description: "Replays a pcap or pcapng capture through netmeter's accounting.",
  operands: 'file',
  options: [
    { name: 'sockets', type: 'string', value: 'FILE', complete: 'file', help: 'socket snapshot (JSON) that says which process owned each socket' },
    { name: 'proc-root', type: 'string', value: 'DIR', complete: 'directory', help: 'a /proc snapshot directory to read the socket tables and owners from' },
    { name: 'local', type: 'string', value: 'CIDRS', help: "addresses that are this host's, e.g. 198.18.0.0/15,fd00::/8" },
    ...SUBSCRIBER_OPTIONS,
    { name: 'json', type: 'boolean', help: 'print the JSON document (version 1) instead of a table' },
    { name: 'sort', type: 'string', value: 'KEY', complete: ['sent', 'received', 'total'], help: 'sent, received or total (default total)' },
    { name: 'top', type: 'string', value: 'N', help: 'only the N largest rows' },
    HELP_OPTION,
  ],
} as const satisfies CommandSpec;

export const REPLAY_HELP = renderHelp(REPLAY_COMMAND);

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function runReplay(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(REPLAY_COMMAND, argv);
  if (values.help) {
    io.stdout.write(REPLAY_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('replay takes exactly one capture file (netmeter replay FILE)');
  if (values.sockets !== undefined && values['proc-root'] !== undefined) {
    throw new UsageError('give --sockets or --proc-root, not both');
  }
  const sort = parseSortKey(values.sort);
  const top = parsePositiveInteger('top', values.top);
  const localCidrs = values.local === undefined ? [] : parseCidrList(values.local);
  const { byHost } = subscriberOptions(values);
  if (byHost && localCidrs.length === 0) throw new UsageError("--by host needs --local: the subscribers' networks (a capture file says nothing of which addresses were the host's)");
  const path = positionals[0]!;

  let snapshot = (await loadSnapshot(values.sockets, values['proc-root'])) ?? emptySnapshot();
  const resolver = new SocketResolver(snapshot, { localCidrs });
  // --by host: the same wrapper as live capture (docs/design.md, subscribers).
  const attribution = resolverAttribution(resolver);
  const meter = new Meter(byHost ? new SubscriberAttribution(attribution, localCidrs, byHost.ipv6Prefix) : attribution);
  const source = await openCaptureFile(path);
  if (source instanceof PcapngFileSource) {
    // A capture made by `netmeter record` carries the socket snapshots taken while recording.
    source.onAttachment = (text) => {
      snapshot = mergeSocketSnapshots(snapshot, parseSocketSnapshot(text, `${path} (embedded socket snapshot)`));
      resolver.update(snapshot);
    };
  }
  let error: CaptureFileError | undefined;
  try {
    for await (const batch of source.batches()) meter.ingest(batch);
  } catch (caught) {
    // What was read before the break is accounted and reported; the break is the error line.
    if (!(caught instanceof CaptureFileError)) throw caught;
    error = caught;
  }
  // Sockets first seen in a snapshot embedded after their first packets.
  meter.attributeUnknown();
  const report = buildUsageReport(
    meter,
    { kind: source.kind, path, interfaces: source.interfaces().map((i) => i.name), ...(error ? { error: error.message } : {}) },
    meter.lastTimestamp - meter.firstTimestamp || 0,
  );
  if (byHost) report.by = 'host';
  if (values.json) writeReportJson(report, (text) => io.stdout.write(text));
  else io.stdout.write(renderUsageTable(report, { sort, ...(top ? { top } : {}) }));
  if (error) {
    io.stderr.write(`netmeter: ${error.message}; the totals above cover the packets read so far\n`);
    return 1;
  }
  return 0;
}

async function loadSnapshot(socketsPath: string | undefined, procRoot: string | undefined): Promise<SocketSnapshot | undefined> {
  if (socketsPath !== undefined) {
    let text: string;
    try {
      text = await readFile(socketsPath, 'utf8');
    } catch (error) {
      throw new UsageError(`--sockets: cannot read ${socketsPath} (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
    return parseSocketSnapshot(text, socketsPath);
  }
  if (procRoot !== undefined) return takeSocketSnapshot(new ProcFs(procRoot), walkSocketOwners);
  return undefined;
}

/** Owners and local addresses from a snapshot (if any), plus the --local networks. */
export function snapshotAttribution(snapshot: SocketSnapshot | undefined, localCidrs: Cidr[]): Attribution {
  return resolverAttribution(new SocketResolver(snapshot ?? emptySnapshot(), { localCidrs }));
}

function resolverAttribution(resolver: SocketResolver): Attribution {
  return {
    isLocal: (address) => resolver.isLocal(address),
    owner: (protocol, localAddress, localPort, remoteAddress, remotePort) =>
      resolver.resolve(protocol, localAddress, localPort, remoteAddress, remotePort),
  };
}
