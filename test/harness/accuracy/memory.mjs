#!/usr/bin/env node
// Resident memory of live netmeter (and, side by side, nethogs) with many concurrent flows
// and many processes, in two steps:
//   1. P idle processes in namespace A (default 10,000), each holding a connected UDP socket
//      that has sent one datagram to B:--proc-port: /proc holds P more pids with a socket
//      each for netmeter's re-reads, and netmeter keeps P more processes and P more records;
//   2. while they stay alive, a generator in A sends small UDP datagrams from K unconnected
//      sockets to N/K destination ports each in B, N distinct 4-tuples (default 100,000),
//      R rounds.
// Nothing listens in B (its ICMP port-unreachable answers are rate-limited by the kernel and
// land in netmeter's "other").
//
//   sudo node test/harness/accuracy/memory.mjs [--flows 100000] [--sockets 10] [--rounds 2]
//        [--pps 20000] [--processes 10000] [--proc-port 19000] [--settle-seconds 10]
//        [--netmeter dist/src/cli/main.js] [--node-arg ARG]... [--heap-stats FILE]
//        [--no-nethogs] [--prefix nm-accm] [--json FILE]
//
// --processes 0 leaves step 1 out (the flows alone, as measured before). Each idle process
// is bash's `exec 3<>/dev/udp/B/PORT`, then `exec sleep` renamed nm-idle-I (~120 kB of its
// own memory each: ~1.2 GB for 10,000). --node-arg passes an option to netmeter's node (e.g.
// --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/nm-heap; the script does not send it).
// --heap-stats FILE preloads into netmeter's main thread and its /proc reader thread a few
// lines that append process.memoryUsage() to FILE every 250 ms (JSON lines, t in ms since
// the epoch): V8 heap per thread, external memory and the process's RSS, to tell them apart.
//
// RSS is sampled every 250 ms from /proc/PID/status (VmRSS) for netmeter's process and its
// capture child if any (summed), and for nethogs, from start until each has exited
// (netmeter's peak includes writing its final JSON document, which lists every connection).
// NETWORK: only between the namespaces made here.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_CLI, Net, ProcGroup, WORKERS, hasCommand, log, netmeterCommand, sleep, waitPacketSocket } from './lib.mjs';

function parseOptions(argv) {
  const o = {
    flows: 100_000, sockets: 10, rounds: 2, pps: 20_000, processes: 10_000, procPort: 19_000, settleSeconds: 10,
    netmeter: DEFAULT_CLI, nodeArgs: [], nethogs: true, prefix: 'nm-accm', json: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    switch (a) {
      case '--flows': o.flows = Number(val()); break;
      case '--sockets': o.sockets = Number(val()); break;
      case '--rounds': o.rounds = Number(val()); break;
      case '--pps': o.pps = Number(val()); break;
      case '--processes': o.processes = Number(val()); break;
      case '--proc-port': o.procPort = Number(val()); break;
      case '--settle-seconds': o.settleSeconds = Number(val()); break;
      case '--node-arg': o.nodeArgs.push(val()); break;
      case '--heap-stats': o.heapStats = path.resolve(val()); break;
      case '--netmeter': o.netmeter = path.resolve(val()); break;
      case '--no-nethogs': o.nethogs = false; break;
      case '--prefix': o.prefix = val(); break;
      case '--json': o.json = path.resolve(val()); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!(o.flows > 0 && o.flows <= 500_000)) throw new Error('--flows: 1 to 500000 (keep it bounded)');
  if (!(Number.isInteger(o.processes) && o.processes >= 0 && o.processes <= 20_000)) throw new Error('--processes: 0 to 20000 (keep it bounded)');
  return o;
}

// The idle processes: a bash in A forks N subshells; each opens a connected UDP socket on
// fd 3, sends one byte through it, and becomes `sleep` (argv[0] nm-idle-I), keeping fd 3.
const IDLE_PROCESSES = `
n=$1 host=$2 port=$3 secs=$4
for ((i = 0; i < n; i++)); do
  ( exec 3<>"/dev/udp/$host/$port" && printf x >&3; exec -a "nm-idle-$i" sleep "$secs" ) </dev/null >/dev/null 2>&1 &
done
echo '{"event":"ready"}'
wait`;

// Preloaded with --import into every thread of netmeter for --heap-stats.
const heapStatsPreload = (file) => `
import fs from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
setInterval(() => {
  const m = process.memoryUsage();
  const row = { t: Date.now(), thread: isMainThread ? 'main' : \`worker \${threadId}\`, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
  fs.appendFileSync(${JSON.stringify(file)}, JSON.stringify(row) + '\\n');
}, 250).unref();
`;

/** pid and its descendants, through /proc/PID/task/TID/children (no scan of all of /proc). */
function treePids(pid) {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...childPids(tree[i]));
  return tree;
}

function childPids(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter((p) => p !== '').map(Number));
  } catch {
    return [];
  }
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
  const killLater = [];
  let phase = 'idle';
  try {
    net.up();
    if (o.heapStats) {
      fs.rmSync(o.heapStats, { force: true });
      const preload = path.join(os.tmpdir(), `netmeter-heap-stats-${process.pid}.mjs`);
      fs.writeFileSync(preload, heapStatsPreload(o.heapStats));
      o.nodeArgs.push(`--import=${pathToFileURL(preload).href}`);
    }
    const nm = group.spawn('netmeter', 'ip', ['netns', 'exec', net.nsA, ...netmeterCommand(o.netmeter).toSpliced(1, 0, ...o.nodeArgs), '-i', net.ifA, '--duration', '3600s', '--json']);
    const hogs = o.nethogs ? group.spawn('nethogs', 'ip', ['netns', 'exec', net.nsA, 'nethogs', '-t', '-v', '2', '-d', '1', '-C', net.ifA]) : undefined;
    await waitPacketSocket(nm);
    if (hogs) await waitPacketSocket(hogs);
    const nmS = new Sampler(nm.pid);
    log(`sampling from ${nmS.started} ms since the epoch`);
    const hogS = hogs ? new Sampler(hogs.pid) : undefined;
    const timer = setInterval(() => {
      nmS.sample(phase);
      hogS?.sample(phase);
    }, 250);
    await sleep(2000);
    let idlePids = [];
    if (o.processes > 0) {
      phase = 'processes';
      const began = Date.now();
      const launcher = group.spawn('idle-processes', 'ip', ['netns', 'exec', net.nsA, 'bash', '-c', IDLE_PROCESSES, 'idle-processes',
        String(o.processes), net.b4, String(o.procPort), '3600']);
      await launcher.event('ready', 300_000);
      // A subshell is counted once it is sleep (its socket open, its datagram sent).
      const sleeping = () => childPids(launcher.pid).filter((p) => comm(p) === 'sleep');
      while (sleeping().length < o.processes && Date.now() - began < 300_000 && launcher.code === undefined) await sleep(500);
      idlePids = sleeping();
      killLater.push(...idlePids);
      log(`${idlePids.length} idle processes with a socket each, started in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      if (idlePids.length < o.processes) throw new Error(`only ${idlePids.length} of ${o.processes} idle processes started`);
      // Lets netmeter re-read /proc with all of them and credit their datagrams.
      await sleep(o.settleSeconds * 1000);
    }
    const gen = group.spawn('generator', 'ip', ['netns', 'exec', net.nsA, process.execPath, WORKERS, 'udp-flows', '--connect', net.b4,
      '--port-base', '20000', '--flows', String(o.flows), '--sockets', String(o.sockets), '--rounds', String(o.rounds), '--pps', String(o.pps), '--timeout', '600']);
    await gen.event('ready');
    phase = 'flows';
    log(`sending ${o.flows} flows x ${o.rounds} rounds at ${o.pps} datagrams/s`);
    const genDone = await gen.event('done', 600_000);
    phase = 'after';
    await sleep(3000);
    phase = 'report';
    // One SIGINT each: netmeter takes a second one during its final document as "quit now".
    await Promise.all([nm.stop('SIGINT', 120_000), hogs?.stop('SIGINT', 5000)]);
    clearInterval(timer);
    if (nm.code !== 0) throw new Error(`netmeter exited with ${nm.code}: ${nm.err}`);
    const report = JSON.parse(nm.out);
    const flowRecords = report.connections.filter((c) => c.protocol === 'udp' && c.remotePort !== o.procPort);
    const udpRecords = flowRecords.length;
    const owned = flowRecords.filter((c) => c.pid === genDone.pid).length;
    // The generator usually ends before netmeter stops, and an ended process's UDP records
    // are retired into its totals: its process entry says what it was credited with.
    const genEntry = report.processes.find((p) => p.pid === genDone.pid);
    // The idle processes' records, and those credited to the process that holds the socket.
    const idleSet = new Set(idlePids);
    const idleRecords = report.connections.filter((c) => c.protocol === 'udp' && c.remotePort === o.procPort);
    const idleOwned = idleRecords.filter((c) => idleSet.has(c.pid)).length;
    const idleInReport = report.processes.filter((p) => idleSet.has(p.pid)).length;
    const mbOf = (kb) => (kb / 1024).toFixed(1);
    const result = {
      host: `${os.hostname()}, ${os.cpus().length} cores, Linux ${os.release()}, node ${process.version}`,
      options: { ...o, netmeter: path.relative(process.cwd(), o.netmeter) },
      generator: genDone,
      sampledFrom: nmS.started, // ms since the epoch: sample times are seconds after it
      netmeter: {
        idleMb: mbOf(nmS.at('idle')), processesMb: mbOf(nmS.at('processes')), duringFlowsMb: mbOf(nmS.at('flows')), afterMb: mbOf(nmS.at('after')),
        peakMb: mbOf(nmS.peak()), reportMb: mbOf(nmS.at('report')),
        capturedPackets: report.totals.packets, udpConnectionRecords: udpRecords, ownedByGenerator: owned,
        generatorSentPackets: genEntry?.sentPackets ?? 0, generatorSentBytes: genEntry?.sentBytes ?? 0, retiredConnections: report.retiredConnections,
        idleProcesses: idlePids.length, idleProcessRecords: idleRecords.length, idleRecordsOwned: idleOwned, idleProcessesInReport: idleInReport,
        processesInReport: report.processes.length, connectionsInReport: report.connections.length,
        unknownBytes: report.unknown.bytes, droppedPackets: report.interfaces[0]?.droppedPackets, // absent: none dropped
        documentMb: (nm.out.length / 1e6).toFixed(1),
      },
      nethogs: hogS ? { idleMb: mbOf(hogS.at('idle')), processesMb: mbOf(hogS.at('processes')), duringFlowsMb: mbOf(hogS.at('flows')), peakMb: mbOf(hogS.peak()) } : undefined,
      samples: { netmeter: nmS.samples.map((s) => [s.t, s.kb, s.phase, s.perProcess]), nethogs: hogS?.samples.map((s) => [s.t, s.kb, s.phase]) },
    };
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(result, null, 2));
    // The tree's first pid is netmeter's own process; the rest is its capture child.
    const mainPeak = Math.max(...nmS.samples.map((x) => x.perProcess[0]?.[2] ?? 0));
    const childPeak = Math.max(...nmS.samples.map((x) => x.perProcess.slice(1).reduce((t, q) => t + q[2], 0)));
    result.netmeter.mainPeakMb = mbOf(mainPeak);
    result.netmeter.childPeakMb = mbOf(childPeak);
    const n = result.netmeter;
    const withProcesses = o.processes > 0;
    const h = result.nethogs;
    const lines = [
      `Memory with ${withProcesses ? `${n.idleProcesses} idle processes holding a UDP socket each, then ` : ''}${o.flows} concurrent UDP flows (${o.sockets} unconnected sockets x ${Math.ceil(o.flows / o.sockets)} destination ports, ${o.rounds} rounds, ${genDone.datagrams} datagrams in ${genDone.seconds.toFixed(1)} s); ${result.host}.`,
      '',
      `| | idle |${withProcesses ? ' with the processes |' : ''} during the flows | after | writing the report | peak |`,
      `|---|---:|${withProcesses ? '---:|' : ''}---:|---:|---:|---:|`,
      `| netmeter RSS (MB) | ${n.idleMb} |${withProcesses ? ` ${n.processesMb} |` : ''} ${n.duringFlowsMb} | ${n.afterMb} | ${n.reportMb} | **${n.peakMb}** |`,
      h ? `| nethogs RSS (MB) | ${h.idleMb} |${withProcesses ? ` ${h.processesMb} |` : ''} ${h.duringFlowsMb} | — | — | **${h.peakMb}** |` : null,
      '',
      `Peaks by process: netmeter's own process ${n.mainPeakMb} MB, a capture child ${n.childPeakMb} MB.`,
      `netmeter captured ${n.capturedPackets} packets (${n.droppedPackets ?? 0} dropped), credited the generator with ${n.generatorSentPackets} packets sent (${n.generatorSentBytes} B), kept ${n.udpConnectionRecords} UDP connection records of the flows (${n.ownedByGenerator} owned by the generator; ${n.retiredConnections} records retired, e.g. when the generator ended), unknown ${n.unknownBytes} B; its JSON document was ${n.documentMb} MB (${n.processesInReport} processes, ${n.connectionsInReport} connections).`,
      withProcesses ? `Idle processes: ${n.idleProcessRecords} records of their datagrams, ${n.idleRecordsOwned} credited to the process holding the socket; ${n.idleProcessesInReport} of ${n.idleProcesses} listed in the document.` : null,
    ].filter((l) => l !== null);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const p of killLater) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await group.cleanup();
    net.down();
    if (o.heapStats) fs.rmSync(path.join(os.tmpdir(), `netmeter-heap-stats-${process.pid}.mjs`), { force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`memory: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
