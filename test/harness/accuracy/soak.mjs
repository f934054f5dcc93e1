#!/usr/bin/env node
// Soak: live netmeter (and nethogs beside it) watching a steady, mixed workload for a long
// time, with its resident memory sampled throughout: the RSS curve should flatten, not climb.
//
//   sudo node test/harness/accuracy/soak.mjs [--minutes 60] [--sample-seconds 10]
//        [--rate 50mbit] [--netmeter dist/src/cli/main.js] [--no-nethogs] [--prefix nm-accs]
//        [--json FILE] [--save-report FILE]
//
// The workload, between namespaces PREFIX-a and PREFIX-b (198.18.1.0/24, fd00:1::/64):
//   - an HTTP-like client in A, 2 connections at a time to a server in B that answers after
//     20 ms: ~90 short-lived connections a second, a new ephemeral port each (the flow table
//     turns over; netmeter retires connections idle for 5 minutes);
//   - a UDP trickle from A (50 datagrams/s of 100 B to a port nobody listens on: ICMP back);
//   - every 30 s a new process in A downloads 3 MB over TCP from B (process churn).
// RSS (VmRSS of netmeter's process + its capture child; nethogs) every --sample-seconds.
// Ends with netmeter's document: captured vs kernel bytes, unknown share, connections kept.
// NETWORK: only between the namespaces made here.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CLI, Net, ProcGroup, TRAFFIC, WORKERS, hasCommand, idle, log, netmeterCommand, rssKb, sleep, waitPacketSocket } from './lib.mjs';

function parseOptions(argv) {
  const o = { minutes: 60, sampleSeconds: 10, rate: '50mbit', netmeter: DEFAULT_CLI, nethogs: true, prefix: 'nm-accs', json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    switch (a) {
      case '--minutes': o.minutes = Number(val()); break;
      case '--sample-seconds': o.sampleSeconds = Number(val()); break;
      case '--rate': o.rate = val(); break;
      case '--netmeter': o.netmeter = path.resolve(val()); break;
      case '--no-nethogs': o.nethogs = false; break;
      case '--prefix': o.prefix = val(); break;
      case '--json': o.json = path.resolve(val()); break;
      case '--save-report': o.saveReport = path.resolve(val()); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!(o.minutes > 0)) throw new Error('--minutes must be more than 0');
  if (o.rate === 'none') o.rate = null;
  return o;
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root: run it with sudo');
  if (o.nethogs && !hasCommand('nethogs')) {
    log('nethogs not found: measuring netmeter alone');
    o.nethogs = false;
  }
  const net = new Net(o.prefix);
  const group = new ProcGroup();
  const durationMs = o.minutes * 60_000;
  let stopEarly = false;
  const onSignal = () => {
    stopEarly = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    net.up();
    net.setRate(o.rate ?? undefined);
    const nm = group.spawn('netmeter', 'ip', ['netns', 'exec', net.nsA, ...netmeterCommand(o.netmeter), '-i', net.ifA,
      '--duration', `${Math.ceil(o.minutes * 60 + 600)}s`, '--json']);
    // Only nethogs' RSS is sampled here; its trace output (every entry it knows, every second)
    // is not kept: over half an hour of churn it outgrew a JavaScript string (512 MB).
    const hogs = o.nethogs ? group.spawn('nethogs', 'ip', ['netns', 'exec', net.nsA, 'nethogs', '-t', '-v', '2', '-d', '1', '-C', net.ifA],
      { stdio: ['ignore', 'ignore', 'pipe'] }) : undefined;
    await waitPacketSocket(nm);
    if (hogs) await waitPacketSocket(hogs);
    const started = Date.now();
    const samples = [];
    const sample = () => {
      const s = { t: (Date.now() - started) / 1000, netmeterKb: rssKb(nm.pid), nethogsKb: hogs ? rssKb(hogs.pid) : undefined };
      samples.push(s);
      log(`t=${s.t.toFixed(0)}s netmeter ${(s.netmeterKb / 1024).toFixed(1)} MB${hogs ? `, nethogs ${(s.nethogsKb / 1024).toFixed(1)} MB` : ''}`);
    };
    sample();
    const inNs = (side, name, script, args) => group.spawn(name, 'ip', ['netns', 'exec', side === 'a' ? net.nsA : net.nsB, process.execPath, script, ...args]);
    const server = inNs('b', 'http-server', WORKERS, ['http-server', '--bind', net.b4, '--port', '22010', '--delay-ms', '20', '--timeout', String(o.minutes * 60 + 600)]);
    await server.event('ready');
    const client = inNs('a', 'http-client', WORKERS, ['http-client', '--connect', net.b4, '--port', '22010', '--concurrency', '2',
      '--duration-ms', String(durationMs), '--request-size', '300', '--response-size', '3000', '--timeout', String(o.minutes * 60 + 600)]);
    const trickle = inNs('a', 'udp-trickle', WORKERS, ['udp-trickle', '--connect', net.b4, '--port', '22020', '--pps', '50', '--size', '100',
      '--duration-ms', String(durationMs), '--timeout', String(o.minutes * 60 + 600)]);
    await Promise.all([client.event('ready'), trickle.event('ready')]);
    let downloads = 0;
    let nextDownload = Date.now();
    let nextSample = Date.now() + o.sampleSeconds * 1000;
    const transfers = [];
    const downloadLog = [];
    while (Date.now() - started < durationMs && !stopEarly) {
      if (Date.now() >= nextDownload) {
        nextDownload += 30_000;
        const port = String(22100 + (downloads % 400));
        downloads++;
        downloadLog.push({ port: Number(port), at: Date.now() / 1000 });
        const srv = inNs('b', `dl-srv-${downloads}`, TRAFFIC, ['tcp-server', '--bind', net.b4, '--port', port, '--send', '3000000', '--now', '--timeout', '60']);
        transfers.push(srv.event('ready').then(() => {
          const cli = inNs('a', `dl-cli-${downloads}`, TRAFFIC, ['tcp-client', '--connect', net.b4, '--port', port, '--expect', '3000000', '--now', '--timeout', '60']);
          return Promise.all([srv.exited, cli.exited]);
        }));
      }
      if (Date.now() >= nextSample) {
        nextSample += o.sampleSeconds * 1000;
        sample();
      }
      await sleep(200);
    }
    await Promise.race([Promise.all(transfers), idle(65_000)]);
    // The client and the trickle end by themselves after --minutes (sooner when interrupted).
    if (!stopEarly) await Promise.race([Promise.all([client.exited, trickle.exited]), idle(30_000)]);
    await client.stop('SIGTERM');
    await trickle.stop('SIGTERM');
    await server.stop('SIGTERM');
    sample();
    await sleep(1500);
    const code = await nm.stop('SIGINT', 120_000);
    await hogs?.stop('SIGINT', 5000);
    if (code !== 0) throw new Error(`netmeter exited with ${code}: ${nm.err}`);
    const report = JSON.parse(nm.out);
    if (o.saveReport) {
      fs.writeFileSync(o.saveReport, nm.out);
      fs.writeFileSync(`${o.saveReport}.stderr`, nm.err);
    }
    const iface = report.interfaces.find((i) => i.name === net.ifA) ?? {};
    // Which traffic went to "unknown": by the remote port's role.
    const role = (c) => (c.remotePort === 22010 ? 'short HTTP-like connections' : c.remotePort === 22020 ? 'UDP trickle'
      : c.remotePort >= 22100 && c.remotePort < 22500 ? '3 MB downloads' : 'other');
    const byRole = {};
    for (const c of report.connections) {
      const r = (byRole[role(c)] ??= { bytes: 0, unknownBytes: 0, connections: 0, unknownConnections: 0 });
      r.bytes += c.sentBytes + c.receivedBytes;
      r.connections++;
      if (c.pid === null) {
        r.unknownBytes += c.sentBytes + c.receivedBytes;
        r.unknownConnections++;
      }
    }
    const mb = (kb) => (kb / 1024).toFixed(1);
    const half = samples.filter((s) => s.t >= samples[samples.length - 1].t / 2);
    const slope = half.length >= 2 ? ((half[half.length - 1].netmeterKb - half[0].netmeterKb) / 1024) / ((half[half.length - 1].t - half[0].t) / 60) : 0;
    const result = {
      host: `${os.hostname()}, ${os.cpus().length} cores, Linux ${os.release()}, node ${process.version}`,
      options: { ...o, netmeter: path.relative(process.cwd(), o.netmeter) },
      seconds: (Date.now() - started) / 1000,
      downloads,
      downloadLog,
      httpConnections: client.events('done')[0]?.connections,
      samples,
      netmeter: {
        firstMb: mb(samples[0].netmeterKb), peakMb: mb(Math.max(...samples.map((s) => s.netmeterKb))), lastMb: mb(samples[samples.length - 1].netmeterKb),
        slopeSecondHalfMbPerMin: +slope.toFixed(2),
        processes: report.processes.length, connections: report.connections.length, retiredConnections: report.retiredConnections,
        totals: report.totals, unknown: report.unknown, unknownByRole: byRole, interface: iface, stderr: nm.err.trim(),
      },
    };
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(result, null, 2));
    const n = result.netmeter;
    const pctOf = (a, b) => (b ? `${(((a - b) / b) * 100).toFixed(3)}%` : 'n/a');
    const lines = [
      `Soak: ${(result.seconds / 60).toFixed(1)} min, ${result.httpConnections ?? '?'} short HTTP-like connections, ${downloads} 3 MB downloads by new processes, a UDP trickle; rate ${o.rate ?? 'none'}; ${result.host}.`,
      '',
      '| t (s) | netmeter RSS (MB) |' + (hogs ? ' nethogs RSS (MB) |' : ''),
      '|---:|---:|' + (hogs ? '---:|' : ''),
      ...samples.map((s) => `| ${s.t.toFixed(0)} | ${mb(s.netmeterKb)} |` + (hogs ? ` ${mb(s.nethogsKb)} |` : '')),
      '',
      `netmeter RSS: first ${n.firstMb} MB, peak ${n.peakMb} MB, last ${n.lastMb} MB; slope over the second half ${n.slopeSecondHalfMbPerMin} MB/min.`,
      `Its document: ${n.processes} processes, ${n.connections} connections kept (${n.retiredConnections} retired), unknown ${n.unknown.bytes} of ${n.totals.sentBytes + n.totals.receivedBytes} B; ` +
        `captured vs kernel: rx ${pctOf(iface.rxBytes, iface.kernelRxBytes)}, tx ${pctOf(iface.txBytes, iface.kernelTxBytes)}.`,
      `Unknown by kind: ${Object.entries(byRole).map(([k, r]) => `${k}: ${r.unknownConnections}/${r.connections} connections, ${(r.bytes ? (100 * r.unknownBytes) / r.bytes : 0).toFixed(1)}% of bytes`).join('; ')}.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await group.cleanup();
    net.down();
  }
}

main().catch((e) => {
  process.stderr.write(`soak: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
