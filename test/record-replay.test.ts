// `netmeter record` on loopback while known workloads run, then `netmeter replay` of the
// file it wrote: the embedded socket snapshots must attribute every workload's packets to
// its PID, exactly as tshark reads them from the same file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { KernelOwners } from '../src/attribute/kernel-owners.js';
import { runCli } from './support/run-cli.js';
import {
  ProcGroup, directionSums, liveSkipReason, parseReport, portFilter, randomPorts, readCapture,
  signalGo, sleep, startLoopbackMix, tempDir, usageFromReport, usageOf, waitDone, waitExit,
  waitForPacketSocket,
} from './support/live-harness.js';

const skip = liveSkipReason(['tshark']);
const execFileP = promisify(execFile);

// Both engines must account the same traffic the same way: cap is the reference for native.
for (const engine of ['native', 'cap'] as const) {
test(`record on lo (${engine} engine), then replay: per-PID totals equal tshark on the recorded file`, { skip: skip ?? false, timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('record');
  try {
    const ports = randomPorts(4, 26000, 32000);
    const filter = portFilter(ports);
    const file = path.join(tmp.dir, 'capture.pcapng');
    const goFile = path.join(tmp.dir, 'go');

    // Stopped by SIGINT once the workloads are done, however long a busy machine takes to start them.
    const recorder = group.netmeter('netmeter record', ['record', '-i', 'lo', '-o', file, '--filter', filter, '--engine', engine]);
    await waitForPacketSocket(recorder);
    await sleep(300); // the filter goes on right after the socket opens
    const workloads = await startLoopbackMix(group, ports, goFile);
    await sleep(1500); // a periodic re-read of /proc (every 1 s) sees every socket
    assert.equal(recorder.exitCode(), undefined, `netmeter record stopped before the workloads could run; stderr:\n${recorder.stderr.all}`);
    signalGo(goFile);
    await Promise.all(workloads.map((w) => waitDone(w)));
    assert.equal(recorder.exitCode(), undefined, `netmeter record stopped before the workloads finished; stderr:\n${recorder.stderr.all}`);
    process.kill(recorder.pid, 'SIGINT');
    const code = await waitExit(recorder, 20_000);
    assert.equal(code, 0, `netmeter record exited with ${code}; stderr:\n${recorder.stderr.all}`);
    assert.match(recorder.stderr.all, /wrote \d+ packets to /);

    // tshark reads the file, and is the reference.
    const check = await execFileP('tshark', ['-n', '-r', file], { maxBuffer: 64 << 20 }).then(
      () => 0, (error: { code?: number; stderr?: string }) => assert.fail(`tshark -r ${file} failed (${error.code}): ${error.stderr}`));
    assert.equal(check, 0);
    const packets = await readCapture(file);
    assert.ok(packets.length > 0, 'the recorded file holds packets');

    const replay = await runCli(['replay', file, '--json'], { timeoutMs: 30_000 });
    assert.equal(replay.code, 0, `netmeter replay exited with ${replay.code}; stderr:\n${replay.stderr}`);
    const report = parseReport(replay.stdout, 'netmeter replay --json');
    assert.equal(report.version, 1);
    assert.equal(report.source.kind, 'pcapng');
    assert.equal(report.totals.packets, packets.length, 'replay totals.packets = packets tshark reads');
    assert.equal(report.totals.bytes, packets.reduce((s, p) => s + p.len, 0), 'replay totals.bytes = tshark frame.len sum');
    for (const w of workloads) {
      const entries = report.processes.filter((p) => p.pid === w.pid);
      assert.equal(entries.length, 1, `${w.name} (pid ${w.pid}) should have one process entry; processes: ${JSON.stringify(report.processes, null, 1)}`);
      const entry = entries[0]!;
      assert.equal(entry.name, 'node', `${w.name}: process name`);
      const expected = usageOf(packets, w);
      assert.ok(expected.sentPackets > 0 && expected.receivedPackets > 0, `${w.name}: the recorded file shows its traffic`);
      assert.deepEqual(usageFromReport(entry), expected, `${w.name} (pid ${w.pid}): replay vs tshark on the recorded file`);
    }
    assert.equal(report.unknown.bytes, 0, `unknown: ${JSON.stringify(report.unknown)}`);
    assert.equal(report.unknown.packets, 0);
    assert.deepEqual(directionSums(report), {
      sentBytes: report.totals.sentBytes,
      receivedBytes: report.totals.receivedBytes,
      sentPackets: report.totals.sentPackets,
      receivedPackets: report.totals.receivedPackets,
    }, 'per direction: processes + unknown + other = totals');
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});
}

test('record keeps the owners of connections too short for /proc (kernel events), and replay finds them', { skip: skip ?? false, timeout: 60_000 }, async (t) => {
  const kernel = KernelOwners.open({ readProcess: async () => undefined });
  if (!(kernel instanceof KernelOwners)) {
    t.skip(`kernel events unavailable here: ${kernel.unavailable}`);
    return;
  }
  kernel.close();
  const group = new ProcGroup();
  const tmp = tempDir('record-short');
  try {
    const [port] = randomPorts(1, 26000, 32000) as [number];
    const file = path.join(tmp.dir, 'capture.pcapng');
    const recorder = group.netmeter('netmeter record', ['record', '-i', 'lo', '-o', file, '--filter', portFilter([port])]);
    await waitForPacketSocket(recorder);
    await sleep(300);
    // A server that answers each connection with 2,000 bytes; a client that opens 40 of
    // them one after another (each lives a few ms) and exits: no /proc read sees its sockets.
    const server = group.spawn('server', process.execPath, ['-e', `require('net').createServer((s) => { s.on('error', () => {}); s.end(Buffer.alloc(2000)); }).listen(${port}, '127.0.0.1', () => console.log('listening'))`]);
    await server.stdout.waitFor((l) => l === 'listening', 'listening', 10_000);
    const client = group.spawn('client', process.execPath, ['-e', `
      const net = require('net');
      let left = 40;
      const next = () => { if (left-- === 0) return console.log('done');
        const s = net.connect(${port}, '127.0.0.1'); s.on('data', () => {}); s.on('close', next); s.on('error', next); };
      next();`]);
    assert.equal(await client.exited, 0, 'the client made its connections');
    process.kill(recorder.pid, 'SIGINT');
    const code = await waitExit(recorder, 20_000);
    assert.equal(code, 0, `netmeter record exited with ${code}; stderr:\n${recorder.stderr.all}`);

    const replay = await runCli(['replay', file, '--json'], { timeoutMs: 30_000 });
    assert.equal(replay.code, 0, replay.stderr);
    const report = parseReport(replay.stdout, 'netmeter replay --json');
    const clientEntry = report.processes.find((p) => p.pid === client.pid);
    assert.ok(clientEntry, `the client (pid ${client.pid}) is in the replay: ${JSON.stringify(report.processes.map((p) => [p.pid, p.name]))}`);
    assert.equal(clientEntry.name, 'node');
    assert.ok(clientEntry.receivedBytes >= 40 * 2000, `the client received its 40 answers: ${clientEntry.receivedBytes} B`);
    assert.equal(report.unknown.bytes, 0, `nothing unknown: ${JSON.stringify(report.unknown)}`);
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});
