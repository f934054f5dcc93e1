// `netmeter record` on loopback while known workloads run, then `netmeter replay` of the
// file it wrote: the embedded socket snapshots must attribute every workload's packets to
// its PID, exactly as tshark reads them from the same file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
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

    const recorder = group.netmeter('netmeter record', ['record', '-i', 'lo', '-o', file, '--duration', '9s', '--filter', filter, '--engine', engine]);
    await waitForPacketSocket(recorder);
    await sleep(300); // the filter goes on right after the socket opens
    const workloads = await startLoopbackMix(group, ports, goFile);
    await sleep(1500); // a periodic re-read of /proc (every 1 s) sees every socket
    assert.equal(recorder.exitCode(), undefined, `netmeter record stopped before the workloads could run; stderr:\n${recorder.stderr.all}`);
    signalGo(goFile);
    await Promise.all(workloads.map((w) => waitDone(w)));
    assert.equal(recorder.exitCode(), undefined,
      'netmeter record --duration ended before the workloads finished (machine too slow for the chosen duration?)');
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
