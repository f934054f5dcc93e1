// `sudo netmeter`: live capture on the chosen interfaces, owners from /proc, and every
// interval a usage report with rates — shown in the Ink screen on a terminal, or printed
// as tables, JSON or JSON lines for scripts.

import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { RateWindow } from '../account/rate-window.js';
import { KernelCounterDelta, readKernelCounters } from '../capture/kernel-counters.js';
import { captureOptions, captureOptionsHelp, droppedPackets, liveCaptureOptions, LOCAL_OPTION_HELP, startLiveCapture } from './live-capture.js';
import { buildUsageReport, type UsageReport } from '../present/usage-report.js';
import { writeReportJson } from '../present/report-json.js';
import { renderUsageTable } from '../present/usage-table.js';
import type { LiveAttribution } from '../attribute/live-attribution.js';
import { LiveFeedStore } from '../present/live/live-feed.js';
import { parseDuration, parsePositiveInteger, parseSortKey } from './options.js';
import type { CommandIo } from './replay.js';
import { UsageError } from './usage-error.js';

const IDLE_CONNECTION_SECONDS = 300;

export const LIVE_HELP = `Usage: sudo netmeter [options]

Shows, live, which programs use the network.

${captureOptionsHelp('default: every interface that is up', 'and has an address, loopback only when named: -i lo')}
  --interval D         refresh every D (default 1s)
  --once               print one report after one interval and exit
  --duration D         run for D (30s, 5m, 1h), then print the totals over the whole run
  --json               print the JSON document (with --once or --duration: one at the end)
  --jsonl              print one JSON document per interval
  --sort KEY           sent, received or total
  --top N              only the N largest rows (tables)
${LOCAL_OPTION_HELP}
`;

export async function runLive(argv: string[], io: CommandIo & { isTTY: boolean }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...captureOptions,
      interval: { type: 'string' },
      once: { type: 'boolean', default: false },
      duration: { type: 'string' },
      json: { type: 'boolean', default: false },
      jsonl: { type: 'boolean', default: false },
      sort: { type: 'string' },
      top: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(LIVE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.json && values.jsonl) throw new UsageError('give --json or --jsonl, not both');
  const intervalSeconds = parseDuration('interval', values.interval) ?? 1;
  const durationSeconds = parseDuration('duration', values.duration) ?? (values.once ? intervalSeconds : undefined);
  const sort = parseSortKey(values.sort);
  const top = parsePositiveInteger('top', values.top);
  const capture = liveCaptureOptions(values);
  const interactive = io.isTTY && !values.json && !values.jsonl && durationSeconds === undefined;
  // A failed re-read of /proc is said once per kind of failure, off the interactive screen.
  const warned = new Set<string>();
  const warn = (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (interactive || warned.has(message)) return;
    warned.add(message);
    io.stderr.write(`netmeter: warning: reading /proc failed, owners may be missing: ${message}\n`);
  };
  const { devices, meter, attribution, source } = await startLiveCapture({ ...capture, onProcError: warn });

  const kernel = new Map(devices.map((d) => [d, new KernelCounterDelta()]));
  const rates = new RateWindow();
  const startedAt = Date.now();
  let lastTickAt = startedAt;

  /** One interval's report: totals since start, rates since the last tick, kernel counters beside. */
  const tick = async (wholeRun = false): Promise<UsageReport> => {
    const now = Date.now();
    // For the one document at the end of a --duration run, rates are averages over the run.
    const seconds = wholeRun ? (now - startedAt) / 1000 : (now - lastTickAt) / 1000;
    lastTickAt = now;
    // Connections quiet for five minutes leave the table; their bytes stay with their owners.
    meter.retireIdle(now / 1000 - IDLE_CONNECTION_SECONDS);
    rates.tick(seconds);
    if (wholeRun) rates.forget();
    const report = buildUsageReport(meter, { kind: 'live', interfaces: devices }, seconds);
    for (const p of report.processes) {
      const key = `p ${p.pid} ${p.name}`;
      p.sentRate = rates.rate(`${key} s`, p.sentBytes);
      p.receivedRate = rates.rate(`${key} r`, p.receivedBytes);
      if (p.pid !== null && !existsSync(`/proc/${p.pid}`)) p.exited = true;
    }
    for (const c of report.connections) {
      const key = `c ${c.protocol} ${c.localAddress} ${c.localPort} ${c.remoteAddress} ${c.remotePort}`;
      c.sentRate = rates.rate(`${key} s`, c.sentBytes);
      c.receivedRate = rates.rate(`${key} r`, c.receivedBytes);
    }
    for (const i of report.interfaces) {
      i.txRate = rates.rate(`i ${i.name} tx`, i.txBytes);
      i.rxRate = rates.rate(`i ${i.name} rx`, i.rxBytes);
    }
    for (const name of devices) {
      let entry = report.interfaces.find((i) => i.name === name);
      if (!entry) report.interfaces.push((entry = { name, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, rxRate: 0, txRate: 0 }));
      const reading = await readKernelCounters(name);
      if (!reading) continue;
      const since = kernel.get(name)!.update(reading);
      entry.kernelRxBytes = since.rxBytes;
      entry.kernelTxBytes = since.txBytes;
      entry.kernelRxRate = rates.rate(`k ${name} rx`, since.rxBytes);
      entry.kernelTxRate = rates.rate(`k ${name} tx`, since.txBytes);
    }
    for (const [name, dropped] of droppedPackets(source, devices)) {
      const entry = report.interfaces.find((i) => i.name === name);
      if (entry && dropped > 0) entry.droppedPackets = dropped;
    }
    report.durationSeconds = (now - startedAt) / 1000;
    return report;
  };
  // The first tick sets the baselines (kernel counters from zero); its frame opens the screen.
  const firstReport = await tick();

  const pump = (async () => {
    for await (const batch of source.batches()) meter.ingest(batch);
  })();

  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = () => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  pump.then(stop, stop);
  if (durationSeconds !== undefined) setTimeout(stop, durationSeconds * 1000).unref();

  const feed = new LiveFeedStore({ report: firstReport, elapsedSeconds: 0, intervalSeconds });
  let ink: { unmount(): void } | undefined;
  if (interactive) {
    // Loaded only for the screen: Ink and React are ~38 MB of memory that --json, --jsonl
    // and the plain table never use.
    const [{ createElement }, { render }, { LiveApp }] = await Promise.all([import('react'), import('ink'), import('../present/live/live-app.js')]);
    ink = render(createElement(LiveApp, { feed, onQuit: stop, initialState: { sort: sort === 'sent' ? 'upload' : sort === 'received' ? 'download' : 'total' }, ownersFrom: ownersFrom(attribution) }), { exitOnCtrlC: false });
  }
  // Reports every interval only when someone sees them: with --json/--duration alone only
  // the last one is printed, and building one for 100,000 connections each second costs
  // hundreds of megabytes of garbage. The kernel counters are still read every interval,
  // so a counter reset in between is seen.
  const perInterval = interactive || values.jsonl || (!values.json && durationSeconds === undefined);
  attribution.startPeriodicRefresh();
  const timer = setInterval(() => {
    if (!perInterval) {
      meter.retireIdle(Date.now() / 1000 - IDLE_CONNECTION_SECONDS);
      for (const name of devices) void readKernelCounters(name).then((reading) => reading && kernel.get(name)!.update(reading));
      return;
    }
    void tick().then((report) => {
      if (ink) feed.publish({ report, elapsedSeconds: report.durationSeconds, intervalSeconds });
      else if (values.jsonl) io.stdout.write(`${JSON.stringify(report)}\n`);
      else io.stdout.write(`${renderUsageTable(report, { sort, ...(top ? { top } : {}) })}\n`);
    });
  }, intervalSeconds * 1000);

  await stopped;
  clearInterval(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  ink?.unmount();
  await source.close();
  let failure: unknown;
  await pump.catch((error: unknown) => (failure = error));
  // The last packets may belong to connections whose owners the kernel named meanwhile.
  meter.attributeUnknown();
  attribution.close();
  if (!interactive && !values.jsonl && durationSeconds !== undefined) {
    const report = await tick(true);
    if (values.json) writeReportJson(report, (text) => io.stdout.write(text));
    else io.stdout.write(renderUsageTable(report, { sort, ...(top ? { top } : {}) }));
  }
  if (failure) throw failure;
  return 0;
}

/** For the help screen: where owners come from, and why not the kernel when it is not. */
function ownersFrom(attribution: LiveAttribution): string {
  const why = attribution.connectEventsUnavailable;
  return why === undefined ? '/proc and kernel events (eBPF: connects, process ends)' : `/proc only (kernel events unavailable: ${why})`;
}
