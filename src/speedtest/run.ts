// A whole speed test in order: choose the server, idle latency, public address, download,
// upload, UDP loss (netmeter servers only). Never throws for a network failure: the
// result says 'failed' (nothing measured) or 'partial' (a phase broke after something
// was), with the one-line error, so nothing broken can pass for a measurement.

import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import type { ServerEndpoints } from './endpoints.js';
import { SpeedtestError } from './errors.js';
import { measureIdleLatency } from './latency.js';
import { DEFAULT_METHOD, type MethodSettings } from './measurement.js';
import { RandomPayload } from './random-payload.js';
import { SPEEDTEST_DOCUMENT_VERSION, latencyFigures, type SpeedtestResult } from './result.js';
import { chooseServer, type ServerRequest } from './server-choice.js';
import { runTransfer, type TransferProgress } from './transfer.js';
import { Transport, type PathChoice } from './transport.js';
import { measurePacketLoss } from './udp-probe.js';

export type SpeedtestPhase = 'server' | 'latency' | 'download' | 'upload' | 'packet-loss';

export type SpeedtestEvent =
  | { kind: 'phase'; phase: SpeedtestPhase; detail?: string }
  | { kind: 'transfer'; progress: TransferProgress };

export interface SpeedtestRequest {
  server: ServerRequest;
  family?: 4 | 6;
  interface?: string;
  ca?: string | Buffer;
  method?: Partial<MethodSettings>;
  /** Idle round trips counted (one more opens the connection). */
  pingCount?: number;
  loadedPingIntervalMs?: number;
  /** A request that moves nothing this long has stalled. */
  stallMs?: number;
  /** Bytes the whole test may move (scheduled tests): half of what is left for the download, the rest for the upload. */
  maxBytes?: number;
  /** UDP probes against netmeter servers; false: none. */
  packetLoss?: { count: number; intervalMs: number; waitMs: number } | false;
  download?: boolean;
  upload?: boolean;
  /** Monotonic milliseconds (performance.now by default). */
  now?: () => number;
  /** Wall clock for the UTC times in the result. */
  wallClock?: () => Date;
  /** /sys, for the interface counters behind the wire rate. */
  sysRoot?: string;
  onEvent?: (event: SpeedtestEvent) => void;
}

export async function runSpeedtest(request: SpeedtestRequest): Promise<SpeedtestResult> {
  const now = request.now ?? (() => performance.now());
  const wall = request.wallClock ?? (() => new Date());
  const emit = request.onEvent ?? (() => {});
  const method: MethodSettings = { ...DEFAULT_METHOD, ...request.method };
  const result: SpeedtestResult = {
    version: SPEEDTEST_DOCUMENT_VERSION,
    status: 'failed',
    error: null,
    startedAt: wall().toISOString(),
    finishedAt: '',
    server: { name: request.server.url ?? '', url: request.server.url ?? '', protocol: request.server.protocol ?? null, address: null, chosenFrom: request.server.url ? 'url' : request.server.serverList ? 'list' : 'default' },
    path: { family: request.family ?? null, interface: request.interface ?? null, localAddress: null, publicAddress: null },
    idleLatency: null,
    download: null,
    upload: null,
    packetLoss: null,
    bytesUsed: { received: 0, sent: 0, total: 0 },
  };
  let transport: Transport | undefined;
  const finish = (error?: Error): SpeedtestResult => {
    if (error) {
      result.error = error.message;
      result.status = result.idleLatency ? 'partial' : 'failed';
    } else result.status = 'complete';
    if (transport) {
      transport.closeAll();
      const used = transport.bytesUsed();
      result.bytesUsed = { ...used, total: used.received + used.sent };
    }
    result.finishedAt = wall().toISOString();
    return result;
  };

  try {
    const path: PathChoice = { ...(request.family ? { family: request.family } : {}), ...(request.ca ? { ca: request.ca } : {}) };
    if (request.interface !== undefined) path.localAddress = interfaceAddress(request.interface, request.family);
    transport = new Transport(path, { stallMs: request.stallMs ?? 10_000 }, new RandomPayload(), now);

    emit({ kind: 'phase', phase: 'server' });
    const { endpoints, chosenFrom } = await chooseServer(request.server, transport);
    result.server = { name: endpoints.name, url: endpoints.base.href, protocol: endpoints.protocol, address: null, chosenFrom };

    emit({ kind: 'phase', phase: 'latency', detail: endpoints.name });
    const idle = await measureIdleLatency(transport, endpoints, request.pingCount ?? 10);
    result.idleLatency = latencyFigures(idle.rtts);
    result.server.address = stripMapped(idle.first.remoteAddress);
    result.path.localAddress = stripMapped(idle.first.localAddress);
    result.path.family = result.path.localAddress?.includes(':') ? 6 : result.path.localAddress ? 4 : result.path.family;
    result.path.interface ??= interfaceOf(result.path.localAddress);
    result.path.publicAddress = await publicAddress(transport, endpoints);
    const udpPort = Number(idle.first.headers['netmeter-udp-port']);

    const counters = (direction: 'rx' | 'tx') => () => readCounter(request.sysRoot ?? '/sys', result.path.interface, direction);
    const transferOptions = {
      method,
      rttMs: result.idleLatency.medianMs ?? 0,
      now,
      loadedPingIntervalMs: request.loadedPingIntervalMs ?? 200,
      onProgress: (progress: TransferProgress) => emit({ kind: 'transfer', progress }),
    };
    if (request.download !== false) {
      emit({ kind: 'phase', phase: 'download' });
      const outcome = await runTransfer('download', endpoints, transport, { ...transferOptions, readWireBytes: counters('rx'), ...cap(transport, request.maxBytes, request.upload !== false ? 0.5 : 1) });
      result.download = outcome.result;
      if (outcome.error) return finish(outcome.error);
      if (outcome.result.mbps === null) return finish(nothingCounted('download', request.maxBytes));
    }
    if (request.upload !== false) {
      emit({ kind: 'phase', phase: 'upload' });
      const outcome = await runTransfer('upload', endpoints, transport, { ...transferOptions, readWireBytes: counters('tx'), ...cap(transport, request.maxBytes, 1) });
      result.upload = outcome.result;
      if (outcome.error) return finish(outcome.error);
      if (outcome.result.mbps === null) return finish(nothingCounted('upload', request.maxBytes));
    }
    if (request.packetLoss !== false && Number.isInteger(udpPort) && udpPort > 0 && result.server.address) {
      emit({ kind: 'phase', phase: 'packet-loss' });
      const probes = request.packetLoss ?? { count: 100, intervalMs: 10, waitMs: 1000 };
      result.packetLoss = await measurePacketLoss(result.server.address, udpPort, {
        ...probes,
        family: result.path.family === 6 ? 6 : 4,
        ...(path.localAddress ? { localAddress: path.localAddress } : {}),
      });
    }
    return finish();
  } catch (error) {
    return finish(error instanceof Error ? error : new Error(String(error)));
  }
}

function nothingCounted(direction: string, maxBytes: number | undefined): SpeedtestError {
  return new SpeedtestError(maxBytes !== undefined
    ? `the ${direction} reached the byte cap (${(maxBytes / 1e6).toFixed(0)} MB per test) before its warm-up ended: nothing was counted; raise the cap`
    : `the ${direction} ended before its warm-up did: nothing was counted`);
}

/** The byte cap for the next phase: `share` of what the test has left. */
function cap(transport: Transport, maxBytes: number | undefined, share: number): { byteCap?: { limit: number; used: () => number } } {
  if (maxBytes === undefined) return {};
  const usedNow = () => {
    const u = transport.bytesUsed();
    return u.received + u.sent;
  };
  const start = usedNow();
  return { byteCap: { limit: start + (maxBytes - start) * share, used: usedNow } };
}

async function publicAddress(transport: Transport, endpoints: ServerEndpoints): Promise<string | null> {
  const connection = transport.connect();
  try {
    const answer = await transport.fetchText(connection, endpoints.ipUrl());
    if (answer.status !== 200) return null;
    return endpoints.parsePublicAddress(answer.body, answer.headers);
  } catch {
    // The address is a label, not a measurement: a server without the path still gets tested.
    return null;
  } finally {
    connection.close();
  }
}

/** The address of `name` to bind for --interface, in the family asked for (IPv4 first otherwise). */
export function interfaceAddress(name: string, family: 4 | 6 | undefined, interfaces = networkInterfaces()): string {
  const addresses = interfaces[name];
  if (!addresses) throw new SpeedtestError(`no interface named ${name}: see 'ip link' for the names`);
  const usable = addresses.filter((a) => (family === undefined || a.family === `IPv${family}`) && !(a.family === 'IPv6' && a.address.startsWith('fe80')));
  usable.sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1));
  if (usable.length === 0) throw new SpeedtestError(`interface ${name} has no ${family ? `IPv${family} ` : ''}address to test from`);
  return usable[0]!.address;
}

function interfaceOf(address: string | null, interfaces = networkInterfaces()): string | null {
  if (!address) return null;
  for (const [name, list] of Object.entries(interfaces)) {
    if (list?.some((a) => a.address === address)) return name;
  }
  return null;
}

function readCounter(sysRoot: string, iface: string | null, direction: 'rx' | 'tx'): number | undefined {
  if (!iface || !/^[\w.:@-]+$/.test(iface)) return undefined;
  try {
    return Number(readFileSync(`${sysRoot}/class/net/${iface}/statistics/${direction}_bytes`, 'utf8'));
  } catch {
    return undefined;
  }
}

function stripMapped(address: string | null | undefined): string | null {
  if (!address) return null;
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
