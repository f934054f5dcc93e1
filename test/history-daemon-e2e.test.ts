// End to end, as root: `netmeter daemon -i lo` records while a traffic.mjs workload moves
// known bytes over 127.0.0.1; a report read while it runs already shows them (the minute
// flush, here every second), and after SIGTERM the daemon exits 0 having written everything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryReport } from '../src/history/report-document.js';
import { runCli } from './support/run-cli.js';
import { ProcGroup, liveSkipReason, randomPorts, signalGo, sleep, startWorkload, tempDir, waitConnections, waitDone, waitExit, waitForPacketSocket } from './support/live-harness.js';

const skip = liveSkipReason();

async function report(db: string): Promise<HistoryReport> {
  const result = await runCli(['report', '--db', db, '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  return JSON.parse(result.stdout) as HistoryReport;
}

test('daemon -i lo records a workload\'s bytes; SIGTERM writes the rest and exits 0', { skip: skip ?? false, timeout: 90_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('history-daemon');
  try {
    const db = join(tmp.dir, 'netmeter.db');
    const [port] = randomPorts(1, 6000, 12000) as [number];
    const daemon = group.netmeter('daemon', ['daemon', '-i', 'lo', '--filter', `port ${port}`, '--db', db, '--flush-interval', '1s']);
    await waitForPacketSocket(daemon);
    await daemon.stderr.waitFor((l) => l.includes('recording lo into'), 'the "recording" line');

    // Sockets first, data after the go signal: the handshake prompts a re-read of /proc that
    // finds both sockets, as it would for any connection that lives longer than that read.
    const goFile = join(tmp.dir, 'go');
    const server = await startWorkload(group, 'tcp-server', 'tcp-server', ['--bind', '127.0.0.1', '--port', String(port), '--send', '50000', '--expect', '20000', '--go-file', goFile]);
    const client = await startWorkload(group, 'tcp-client', 'tcp-client', ['--connect', '127.0.0.1', '--port', String(port), '--send', '20000', '--expect', '50000', '--go-file', goFile]);
    await waitConnections(server, 1);
    await sleep(1500);
    signalGo(goFile);
    await Promise.all([waitDone(server), waitDone(client)]);

    // While the daemon runs: a flush or two later the report (read-only, beside the writer) has the bytes.
    let running: HistoryReport | undefined;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      running = await report(db);
      if ((running.rows.find((r) => r.app === 'node')?.receivedBytes ?? 0) >= 70_000) break;
      await sleep(500);
    }
    const live = running!.rows.find((r) => r.app === 'node');
    assert.ok(live && live.receivedBytes >= 70_000, `the running daemon's flushes show node's bytes: ${JSON.stringify(running!.rows)}`);

    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 15_000), 0, `daemon exit code; stderr:\n${daemon.stderr.all}`);
    assert.match(daemon.stderr.all, /stopped; everything counted is written/);

    const after = await report(db);
    const node = after.rows.find((r) => r.app === 'node');
    assert.ok(node, `node is in the report: ${JSON.stringify(after.rows)}`);
    // Both ends are node: 70000 payload bytes each way at least, plus headers; on loopback every
    // byte one socket sends the other receives.
    assert.ok(node.sentBytes >= 70_000 && node.receivedBytes >= 70_000, JSON.stringify(node));
    assert.equal(node.sentBytes, node.receivedBytes);
    assert.ok(node.sentBytes < 200_000, 'only the workload: the filter kept everything else out');
    assert.match(node.exe ?? '', /node/);
    assert.equal(node.user, undefined);
    const lo = after.interfaces.find((i) => i.interface === 'lo');
    // The kernel counts lo's packets without the 14-byte Ethernet header the capture shows.
    assert.ok(lo && lo.rxPackets >= node.receivedPackets && lo.rxBytes >= node.receivedBytes - 14 * node.receivedPackets,
      `lo's kernel counters cover at least the workload: ${JSON.stringify(after.interfaces)} vs ${JSON.stringify(node)}`);
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});

test('SIGHUP re-reads the config: a bad one is refused in one line and the one in use kept', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('history-reload');
  try {
    const db = join(tmp.dir, 'netmeter.db');
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ history: { pricePerGB: 1, currency: 'EUR' } }));
    const daemon = group.netmeter('daemon', ['daemon', '-i', 'lo', '--filter', 'port 9', '--db', db, '--config', config, '--flush-interval', '1s']);
    await daemon.stderr.waitFor((l) => l.includes('recording lo into'), 'the "recording" line');
    writeFileSync(config, '{"history": {"pricePerGB": -3}}');
    process.kill(daemon.pid, 'SIGHUP');
    const refused = await daemon.stderr.waitFor((l) => l.includes('kept the config in use'), 'the refusal');
    assert.match(refused, /history: pricePerGB must be a number of at least 0 \(got -3\)/);
    writeFileSync(config, JSON.stringify({ history: { pricePerGB: 2 } }));
    process.kill(daemon.pid, 'SIGHUP');
    await daemon.stderr.waitFor((l) => l.includes(`config reloaded from ${config}`), 'the reload');
    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 15_000), 0, daemon.stderr.all);
    assert.equal(daemon.stderr.all.split('\n').filter((l) => /at .*\.js:\d+/.test(l)).length, 0, 'no stack trace');
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});
