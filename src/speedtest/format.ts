// How a speed test reads: the result as a few aligned lines, and the progress while it
// runs — one line rewritten in place on a terminal, plain lines (one per phase) otherwise.

import { formatBytes } from '../present/units.js';
import type { DirectionResult, LatencyFigures, SpeedtestResult } from './result.js';
import type { SpeedtestEvent } from './run.js';

export function formatMbps(mbps: number | null): string {
  if (mbps === null) return '-';
  return `${mbps >= 100 ? mbps.toFixed(0) : mbps >= 10 ? mbps.toFixed(1) : mbps.toFixed(2)} Mbit/s`;
}

function formatMs(ms: number | null): string {
  return ms === null ? '-' : `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}

function latencyText(l: LatencyFigures | null): string {
  if (!l || l.samples === 0) return 'not measured';
  return `${formatMs(l.medianMs)} median, jitter ${formatMs(l.jitterMs)} (${l.samples} round trips)`;
}

function directionText(d: DirectionResult | null): string[] {
  if (!d) return ['not measured'];
  const wire = d.wireMbps !== null ? `, wire ${formatMbps(d.wireMbps)}` : '';
  const how = `${d.streams} streams, ${(d.durationMs / 1000).toFixed(1)} s counted after ${(d.warmupMs / 1000).toFixed(1)} s warm-up, ${d.stoppedBy === 'stable' ? 'stable' : d.stoppedBy === 'error' ? 'stopped by an error' : 'time limit'}`;
  return [`${formatMbps(d.mbps)}${wire} (${how})`, `latency under load ${latencyText(d.loadedLatency)}`];
}

export function formatResult(r: SpeedtestResult): string {
  const rows: [string, string][] = [];
  const status = r.status === 'complete' ? '' : ` — ${r.status.toUpperCase()}: ${r.error ?? ''}`;
  rows.push(['Server', `${r.server.name} (${r.server.url}${r.server.protocol ? `, ${r.server.protocol}` : ''}${r.server.address ? `, ${r.server.address}` : ''})${status}`]);
  const family = r.path.family ? `IPv${r.path.family}` : 'address family unknown';
  rows.push(['Path', `${family}${r.path.interface ? ` via ${r.path.interface}` : ''}${r.path.localAddress ? `, local ${r.path.localAddress}` : ''}${r.path.publicAddress ? `, public ${r.path.publicAddress}` : ''}`]);
  rows.push(['Idle latency', latencyText(r.idleLatency)]);
  const [down, downLoaded] = directionText(r.download);
  rows.push(['Download', down!]);
  if (downLoaded) rows.push(['', downLoaded]);
  const [up, upLoaded] = directionText(r.upload);
  rows.push(['Upload', up!]);
  if (upLoaded) rows.push(['', upLoaded]);
  if (r.packetLoss) rows.push(['Packet loss', `${r.packetLoss.lossPercent}% (${r.packetLoss.received} of ${r.packetLoss.sent} UDP probes answered)`]);
  rows.push(['Data used', `${formatBytes(r.bytesUsed.total)} (received ${formatBytes(r.bytesUsed.received)}, sent ${formatBytes(r.bytesUsed.sent)})`]);
  rows.push(['Time (UTC)', `${r.startedAt} – ${r.finishedAt}`]);
  return rows.map(([k, v]) => `${k.padEnd(13)}${v}`).join('\n') + '\n';
}

/** Progress on `out`: on a terminal one line redrawn; otherwise one line per phase. */
export function progressPrinter(out: NodeJS.WritableStream, isTTY: boolean): { onEvent: (e: SpeedtestEvent) => void; done: () => void } {
  let drawn = false;
  const clear = () => {
    if (drawn) out.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    onEvent: (e) => {
      if (e.kind === 'phase') {
        const text = { server: 'choosing the server', latency: 'idle latency', download: 'download', upload: 'upload', 'packet-loss': 'packet loss (UDP probes)' }[e.phase];
        if (isTTY) {
          clear();
          out.write(`${text}${e.detail ? ` (${e.detail})` : ''}…`);
          drawn = true;
        } else out.write(`${text}${e.detail ? ` (${e.detail})` : ''}\n`);
        return;
      }
      if (!isTTY) return;
      const p = e.progress;
      const rate = p.bitsPerSecond === null ? '…' : formatMbps(p.bitsPerSecond / 1e6);
      const state = p.state === 'warmup' ? 'warm-up' : 'measuring';
      clear();
      out.write(`${p.direction} ${state} ${rate} ${(p.elapsedMs / 1000).toFixed(1)} s`);
      drawn = true;
    },
    done: clear,
  };
}
