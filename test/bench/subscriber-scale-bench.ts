// The exporter at a provider's scale (issue 16): 10,000 subscriber hosts and 1,000
// applications in one meter, the real SessionMetrics on the real MetricsServer, scraped over
// HTTP by curl (another process, so its CPU is not ours) — first idle, then while the meter
// takes 100,000 packets/s on the same event loop, as in the daemon. Reports the scrapes'
// p50/p95/max, the series per family (as configured: metrics.subscribers.max 10,000,
// topApplications 1,000), the exporter's CPU (ms per scrape, and ms/s at 1 s and 15 s
// scrape intervals) beside the meter's ingest CPU (ms/s), and the packet rate reached.
//
// What it leaves out: the capture thread (native/; see "Native capture engine" in
// docs/benchmarks.md for its CPU per packet) and the history flushes. The meter is fed
// prebuilt batches of one packet per entry (no coalescing: the worst case for ingest).
//
// Usage: npm run build && node dist/test/bench/subscriber-scale-bench.js [--hosts 10000]
//        [--apps 1000] [--scrapes 100] [--rate 100000] [--gap-ms 100]

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { cpus, loadavg, release } from 'node:os';
import { Meter } from '../../src/account/meter.js';
import type { Attribution } from '../../src/account/attribution.js';
import { SubscriberAttribution } from '../../src/attribute/subscribers.js';
import type { ProcessInfo } from '../../src/attribute/types.js';
import { LinkType, PacketBatchBuilder, type PacketBatch } from '../../src/capture/packet-batch.js';
import { parseCidr } from '../../src/decode/address.js';
import { MeterTotals } from '../../src/history/meter-totals.js';
import { MetricsServer } from '../../src/metrics/metrics-server.js';
import { SessionMetrics } from '../../src/metrics/session-metrics.js';
import { ipv4, udp } from '../support/packet-builder.js';

const execFileP = promisify(execFile);
const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '10000' },
    apps: { type: 'string', default: '1000' },
    scrapes: { type: 'string', default: '100' },
    rate: { type: 'string', default: '100000' },
    'gap-ms': { type: 'string', default: '100' },
  },
});
const HOSTS = Number(values.hosts);
const APPS = Number(values.apps);
const SCRAPES = Number(values.scrapes);
const RATE = Number(values.rate);
const GAP_MS = Number(values['gap-ms']);
const BATCH = 1000;

// The router's own address runs the applications; the subscribers are 198.18.0.0/16.
const ROUTER = '198.19.0.1';
const REMOTE = '198.19.200.1';
const hostAddress = (i: number) => `198.18.${i >> 8}.${i & 255}`;
const apps: ProcessInfo[] = Array.from({ length: APPS }, (_, i) => ({ pid: 1000 + i, name: `app${i}`, cmdline: `app${i}`, user: 'root', uid: 0, exe: `/usr/bin/app${i}` }));
const host: Attribution = {
  isLocal: (a) => a.startsWith('198.18.') || a === ROUTER,
  owner: () => undefined,
};
const subscribers = new SubscriberAttribution(host, [parseCidr('198.18.0.0/16')!], 64);
// Subscribers by address; the router's own sockets by the process holding the port.
const attribution: Attribution = {
  isLocal: (a) => host.isLocal(a),
  owner: (protocol, local, port, remote, remotePort) => (local === ROUTER ? apps[port - 10000] : subscribers.owner(protocol, local, port, remote, remotePort)),
};

/** Two UDP flows per subscriber and per application, 142 bytes on the wire each, in batches of BATCH. */
function buildBatches(): PacketBatch[] {
  const packets: Buffer[] = [];
  for (let i = 0; i < HOSTS; i++) for (const port of [40000, 40001]) packets.push(ipv4(hostAddress(i), REMOTE, 17, udp(port, 443, 100)));
  for (let i = 0; i < APPS; i++) for (const port of [443, 53]) packets.push(ipv4(ROUTER, REMOTE, 17, udp(10000 + i, port, 100)));
  const batches: PacketBatch[] = [];
  for (let from = 0; from < packets.length; from += BATCH) {
    const slice = packets.slice(from, from + BATCH);
    const builder = new PacketBatchBuilder(slice.length);
    let offset = 0;
    for (const p of slice) {
      builder.push(offset, p.length, p.length + 14, 1_700_000_000, 0);
      offset += p.length;
    }
    batches.push(builder.take(Buffer.concat(slice), [{ name: 'lan0', linkType: LinkType.RAW }]));
  }
  return batches;
}

const meter = new Meter(attribution);
const totals = new MeterTotals(meter, { drainRetired: true, userName: () => 'root' });
const batches = buildBatches();
for (const b of batches) meter.ingest(b); // every subscriber and application has bytes

const server = new MetricsServer({ listen: { host: '127.0.0.1', port: 0 } });
const metrics = new SessionMetrics(
  { usageTotals: () => totals.totals(), kernelReadings: () => [], droppedPackets: () => new Map(), meter },
  server.registry,
  { topApplications: APPS, subscribers: { enabled: true, max: HOSTS } },
);
server.onScrape(() => metrics.beginScrape());
// The exporter's own CPU: what producing each scrape's text takes (collectors and
// serialisation run as one task; nothing else runs in between).
let exporterCpuUs = 0;
const produce = server.registry.exposition.bind(server.registry);
server.registry.exposition = async () => {
  const before = process.cpuUsage();
  const text = await produce();
  const used = process.cpuUsage(before);
  exporterCpuUs += used.user + used.system;
  return text;
};
await server.listen();
const url = `http://${server.address}/metrics`;

async function scrape(): Promise<number> {
  const { stdout } = await execFileP('curl', ['-sf', '-o', '/dev/null', '-w', '%{time_total}', url]);
  return Number(stdout) * 1000;
}

/** 100 scrapes, GAP_MS apart; returns their times (ms), the exporter's CPU over them and the phase's wall time. */
async function scrapes(): Promise<{ ms: number[]; exporterMs: number; wallMs: number }> {
  const ms: number[] = [];
  exporterCpuUs = 0;
  const start = performance.now();
  for (let i = 0; i < SCRAPES; i++) {
    ms.push(await scrape());
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  return { ms, exporterMs: exporterCpuUs / 1000, wallMs: performance.now() - start };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;
const summary = (name: string, r: { ms: number[]; exporterMs: number; wallMs: number }) => {
  const perScrape = r.exporterMs / r.ms.length;
  return `| ${name} | ${quantile(r.ms, 0.5).toFixed(1)} | ${quantile(r.ms, 0.95).toFixed(1)} | ${Math.max(...r.ms).toFixed(1)} | ${perScrape.toFixed(1)} | ${perScrape.toFixed(1)} | ${(perScrape / 15).toFixed(2)} |`;
};

// The series as served.
const body = (await execFileP('curl', ['-sf', url], { maxBuffer: 256 * 1024 * 1024 })).stdout;
const count = (prefix: string) => body.split('\n').filter((l) => l.startsWith(prefix)).length;
const series = {
  subscriber: count('netmeter_subscriber_sent_bytes_total{'),
  application: count('netmeter_application_sent_bytes_total{'),
  all: body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
  bytes: body.length,
};

const idle = await scrapes();

// Load: RATE packets/s into the meter, in batches of BATCH, caught up every 10 ms.
let ingested = 0;
let ingestCpuUs = 0;
let next = 0;
const loadStart = performance.now();
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - loadStart) / 1000) * RATE);
  while (ingested + BATCH <= due) {
    const before = process.cpuUsage();
    meter.ingest(batches[next]!);
    const used = process.cpuUsage(before);
    ingestCpuUs += used.user + used.system;
    next = (next + 1) % batches.length;
    ingested += BATCH;
  }
}, 10);
await new Promise((r) => setTimeout(r, 1000)); // the rate settles
const ingestedBefore = ingested;
const ingestCpuBefore = ingestCpuUs;
const loadPhaseStart = performance.now();
const load = await scrapes();
const loadSeconds = (performance.now() - loadPhaseStart) / 1000;
clearInterval(timer);
await server.close();

const lines = [
  `hosts ${HOSTS}, applications ${APPS}, ${SCRAPES} scrapes ${GAP_MS} ms apart, load ${RATE} packets/s offered`,
  `machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, kernel ${release()}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  `series: subscriber ${series.subscriber} per counter, application ${series.application} per counter; ${series.all} samples in all, ${(series.bytes / 1e6).toFixed(1)} MB a scrape`,
  '',
  '| phase | p50 ms | p95 ms | max ms | exporter CPU ms/scrape | exporter ms/s at 1 s scrapes | at 15 s scrapes |',
  '|---|---:|---:|---:|---:|---:|---:|',
  summary('idle', idle),
  summary(`${RATE.toLocaleString('en')} packets/s`, load),
  '',
  `under load: the meter took ${Math.round((ingested - ingestedBefore) / loadSeconds).toLocaleString('en')} packets/s, its ingest ${((ingestCpuUs - ingestCpuBefore) / 1000 / loadSeconds).toFixed(0)} ms CPU per second; the exporter over the phase ${(load.exporterMs / loadSeconds).toFixed(0)} ms/s (one scrape per ${(loadSeconds * 1000 / SCRAPES).toFixed(0)} ms)`,
];
process.stdout.write(`${lines.join('\n')}\n`);
