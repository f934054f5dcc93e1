// Live capture end to end, as root on loopback: `netmeter -i lo --duration D --json` runs
// beside tcpdump (the reference, same filter) while traffic.mjs workloads move known
// amounts over TCP and UDP, IPv4 and IPv6. Every workload process must get exactly the
// bytes and packets that the reference capture shows for its sockets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  ProcGroup, directionSums, liveSkipReason, parseReport, portFilter, randomPorts, readCapture,
  signalGo, sleep, startLoopbackMix, startTcpdump, tempDir, usageFromReport, usageOf,
  waitDone, waitExit, waitForPacketSocket,
} from './support/live-harness.js';

const skip = liveSkipReason(['tcpdump', 'tshark']);

// Both engines must account the same traffic the same way: cap is the reference for native.
for (const engine of ['native', 'cap'] as const) {
test(`live capture on lo (${engine} engine): per-process bytes and packets equal a tcpdump reference`, { skip: skip ?? false, timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('live');
  try {
    const ports = randomPorts(4, 20000, 26000);
    const filter = portFilter(ports);
    const pcap = path.join(tmp.dir, 'reference.pcap');
    const goFile = path.join(tmp.dir, 'go');

    const tcpdump = await startTcpdump(group, 'lo', pcap, filter);
    // --duration counts from the moment the capture is open; long enough for a slow machine
    // to start eight workloads, wait 1.5 s and move the data.
    const netmeter = group.netmeter('netmeter', ['-i', 'lo', '--duration', '9s', '--json', '--filter', filter, '--engine', engine]);
    await waitForPacketSocket(netmeter);
    await sleep(300); // the filter goes on right after the socket opens

    const workloads = await startLoopbackMix(group, ports, goFile);
    // Let a periodic re-read of /proc (every interval, 1 s) see every socket.
    await sleep(1500);
    assert.equal(netmeter.exitCode(), undefined, `netmeter stopped before the workloads could run; stderr:\n${netmeter.stderr.all}`);
    signalGo(goFile);
    await Promise.all(workloads.map((w) => waitDone(w)));
    assert.equal(netmeter.exitCode(), undefined,
      'netmeter --duration ended before the workloads finished (machine too slow for the chosen duration?)');

    const code = await waitExit(netmeter, 20_000);
    await tcpdump.stop();
    assert.equal(code, 0, `netmeter exited with ${code}; stderr:\n${netmeter.stderr.all}`);
    const report = parseReport(netmeter.stdout.all, 'netmeter --json');
    const packets = await readCapture(pcap);

    assert.equal(report.version, 1);
    assert.equal(report.source.kind, 'live');
    assert.deepEqual(report.source.interfaces, ['lo']);
    for (const w of workloads) {
      const entries = report.processes.filter((p) => p.pid === w.pid);
      assert.equal(entries.length, 1, `${w.name} (pid ${w.pid}) should have one process entry; processes: ${JSON.stringify(report.processes, null, 1)}`);
      const entry = entries[0]!;
      assert.equal(entry.name, 'node', `${w.name}: process name`);
      const expected = usageOf(packets, w);
      assert.ok(expected.sentPackets > 0 && expected.receivedPackets > 0, `${w.name}: the reference capture shows its traffic`);
      assert.deepEqual(usageFromReport(entry), expected, `${w.name} (pid ${w.pid}): netmeter vs the tcpdump reference`);
    }
    const refBytes = packets.reduce((s, p) => s + p.len, 0);
    assert.equal(report.totals.packets, packets.length, 'totals.packets = packets in the reference capture');
    assert.equal(report.totals.bytes, refBytes, 'totals.bytes = bytes in the reference capture');
    assert.equal(report.unknown.bytes, 0, `unknown bytes; report:\n${JSON.stringify(report.unknown)}`);
    assert.equal(report.unknown.packets, 0);

    // docs/design.md, conservation: per direction, processes + unknown + other = totals.
    const sums = directionSums(report);
    assert.deepEqual(sums, {
      sentBytes: report.totals.sentBytes,
      receivedBytes: report.totals.receivedBytes,
      sentPackets: report.totals.sentPackets,
      receivedPackets: report.totals.receivedPackets,
    }, 'per direction: processes + unknown + other = totals');
    // On loopback every packet is sent by one local socket and received by another.
    assert.equal(report.totals.sentBytes, refBytes);
    assert.equal(report.totals.receivedBytes, refBytes);
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});
}
