#!/usr/bin/env node
// Resident memory of live netmeter (and, side by side, nethogs) with many concurrent flows:
// a generator in namespace A sends small UDP datagrams from K unconnected sockets to N/K
// destination ports each in namespace B, N distinct 4-tuples (default 100,000), R rounds.
// Nothing listens in B (its ICMP port-unreachable answers are rate-limited by the kernel and
// land in netmeter's "other").
//
//   sudo node test/harness/accuracy/memory.mjs [--flows 100000] [--sockets 10] [--rounds 2]
//        [--pps 20000] [--netmeter dist/src/cli/main.js] [--no-nethogs] [--prefix nm-accm]
//        [--json FILE]
//
// RSS is sampled every 250 ms from /proc/PID/status (VmRSS) for netmeter's process and its
// capture child (summed), and for nethogs, from start until each has exited (netmeter's
// peak includes writing its final JSON document, which lists every connection).
// NETWORK: only between the namespaces made here.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CLI, Net, ProcGroup, WORKERS, hasCommand, log, sleep, treePids, waitPacketSocket } from './lib.mjs';

function parseOptions(argv) {
  const o = { flows: 100_000, sockets: 10, rounds: 2, pps: 20_000, netmeter: DEFAULT_CLI, nethogs: true, prefix: 'nm-accm', json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    switch (a) {
      case '--flows': o.flows = Number(val()); break;
      case '--sockets': o.sockets = Number(val()); break;
      case '--rounds': o.rounds = Number(val()); break;
      case '--pps': o.pps = Number(val()); break;
      case '--netmeter': o.netmeter = path.resolve(val()); break;
      case '--no-nethogs': o.nethogs = false; break;
      case '--prefix': o.prefix = val(); break;
      case '--json': o.json = path.resolve(val()); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!(o.flows > 0 && o.flows <= 500_000)) throw new Error('--flows: 1 to 500000 (keep it bounded)');
  return o;
}

class Sampler {
  constructor(pid) {
    this.pid = pid;
    this.samples = [];
    this.started = Date.now();
  }

  sample(phase) {
    const pids = treePids(this.pid);
    const kb = pids.reduce((s, p) => s + rssKb1(p), 0);
    // [pid, comm, kB] per process of the tree (netmeter: main process, capture child).
    const perProcess = pids.map((p) => [p, comm(p), rssKb1(p)]);
    if (kb > 0) this.samples.push({ t: (Date.now() - this.started) / 1000, kb, phase, perProcess });
  }

  peak() {
    return this.samples.reduce((m, s) => Math.max(m, s.kb), 0);
  }

  at(phase) {
    return this.samples.filter((s) => s.phase === phase).reduce((m, s) => Math.max(m, s.kb), 0);
  }
}

function comm(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

function rssKb1(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
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
  let phase = 'idle';
  try {
    net.up();
    const nm = group.spawn('netmeter', 'ip', ['netns', 'exec', net.nsA, process.execPath, o.netmeter, '-i', net.ifA, '--duration', '3600s', '--json']);
    const hogs = o.nethogs ? group.spawn('nethogs', 'ip', ['netns', 'exec', net.nsA, 'nethogs', '-t', '-v', '2', '-d', '1', '-C', net.ifA]) : undefined;
    await waitPacketSocket(nm);
    if (hogs) await waitPacketSocket(hogs);
    const nmS = new Sampler(nm.pid);
    const hogS = hogs ? new Sampler(hogs.pid) : undefined;
    const timer = setInterval(() => {
      nmS.sample(phase);
      hogS?.sample(phase);
    }, 250);
    await sleep(2000);
    const gen = group.spawn('generator', 'ip', ['netns', 'exec', net.nsA, process.execPath, WORKERS, 'udp-flows', '--connect', net.b4,
      '--port-base', '20000', '--flows', String(o.flows), '--sockets', String(o.sockets), '--rounds', String(o.rounds), '--pps', String(o.pps), '--timeout', '600']);
    await gen.event('ready');
    phase = 'flows';
    log(`sending ${o.flows} flows x ${o.rounds} rounds at ${o.pps} datagrams/s`);
    const genDone = await gen.event('done', 600_000);
    phase = 'after';
    await sleep(3000);
    phase = 'report';
    nm.signal('SIGINT');
    hogs?.signal('SIGINT');
    await nm.stop('SIGINT', 120_000);
    await hogs?.stop('SIGINT', 5000);
    clearInterval(timer);
    if (nm.code !== 0) throw new Error(`netmeter exited with ${nm.code}: ${nm.err}`);
    const report = JSON.parse(nm.out);
    const udpRecords = report.connections.filter((c) => c.protocol === 'udp').length;
    const owned = report.connections.filter((c) => c.protocol === 'udp' && c.pid === genDone.pid).length;
    const mbOf = (kb) => (kb / 1024).toFixed(1);
    const result = {
      host: `${os.hostname()}, ${os.cpus().length} cores, Linux ${os.release()}, node ${process.version}`,
      options: { ...o, netmeter: path.relative(process.cwd(), o.netmeter) },
      generator: genDone,
      netmeter: {
        idleMb: mbOf(nmS.at('idle')), duringFlowsMb: mbOf(nmS.at('flows')), afterMb: mbOf(nmS.at('after')), peakMb: mbOf(nmS.peak()),
        reportMb: mbOf(nmS.at('report')),
        capturedPackets: report.totals.packets, udpConnectionRecords: udpRecords, ownedByGenerator: owned,
        unknownBytes: report.unknown.bytes, droppedPackets: report.interfaces[0]?.droppedPackets ?? 0,
        documentMb: (nm.out.length / 1e6).toFixed(1),
      },
      nethogs: hogS ? { idleMb: mbOf(hogS.at('idle')), duringFlowsMb: mbOf(hogS.at('flows')), peakMb: mbOf(hogS.peak()) } : undefined,
      samples: { netmeter: nmS.samples.map((s) => [s.t, s.kb, s.phase, s.perProcess]), nethogs: hogS?.samples.map((s) => [s.t, s.kb, s.phase]) },
    };
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(result, null, 2));
    // The tree's first pid is netmeter's own process; the rest is its capture child.
    const mainPeak = Math.max(...nmS.samples.map((x) => x.perProcess[0]?.[2] ?? 0));
    const childPeak = Math.max(...nmS.samples.map((x) => x.perProcess.slice(1).reduce((t, q) => t + q[2], 0)));
    result.netmeter.mainPeakMb = mbOf(mainPeak);
    result.netmeter.childPeakMb = mbOf(childPeak);
    const n = result.netmeter;
    const lines = [
      `Memory with ${o.flows} concurrent UDP flows (${o.sockets} unconnected sockets x ${Math.ceil(o.flows / o.sockets)} destination ports, ${o.rounds} rounds, ${genDone.datagrams} datagrams in ${genDone.seconds.toFixed(1)} s); ${result.host}.`,
      '',
      '| | idle | during the flows | after | writing the report | peak |',
      '|---|---:|---:|---:|---:|---:|',
      `| netmeter RSS (MB, process + capture child) | ${n.idleMb} | ${n.duringFlowsMb} | ${n.afterMb} | ${n.reportMb} | **${n.peakMb}** |`,
      result.nethogs ? `| nethogs RSS (MB) | ${result.nethogs.idleMb} | ${result.nethogs.duringFlowsMb} | — | — | **${result.nethogs.peakMb}** |` : null,
      '',
      `Peaks by process: netmeter's own process ${n.mainPeakMb} MB, its capture child ${n.childPeakMb} MB.`,
      `netmeter captured ${n.capturedPackets} packets (${n.droppedPackets} dropped inside netmeter), kept ${n.udpConnectionRecords} UDP connection records (${n.ownedByGenerator} owned by the generator), unknown ${n.unknownBytes} B; its JSON document was ${n.documentMb} MB.`,
    ].filter((l) => l !== null);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await group.cleanup();
    net.down();
  }
}

main().catch((e) => {
  process.stderr.write(`memory: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
