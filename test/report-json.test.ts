import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeReportJson } from '../src/present/report-json.js';
import type { ConnectionUsage, UsageReport } from '../src/present/usage-report.js';

function report(connections: number): UsageReport {
  const conns: ConnectionUsage[] = Array.from({ length: connections }, (_, i) => ({
    protocol: i % 2 ? 'tcp' : 'udp', localAddress: 'fd00::1', localPort: 1000 + i, remoteAddress: '198.18.0.2', remotePort: 443,
    pid: i % 3 ? 42 : null, name: i % 3 ? 'a "quoted"\nname \u2713' : null,
    sentBytes: i, receivedBytes: 2 * i, sentPackets: 1, receivedPackets: 2, packets: 3, interface: 'veth0', sentRate: 0.5, receivedRate: 0,
  } as ConnectionUsage));
  return {
    version: 1,
    source: { kind: 'live', interfaces: ['veth0'], packets: 3, bytes: 300 },
    durationSeconds: 1.5,
    totals: { packets: 3, bytes: 300, sentBytes: 100, receivedBytes: 200, sentPackets: 1, receivedPackets: 2 },
    processes: [{ pid: 42, name: 'x', cmdline: 'x --y', user: null, sentBytes: 1, receivedBytes: 2, sentPackets: 1, receivedPackets: 1, sentRate: 0, receivedRate: 0 }],
    connections: conns,
    unknown: { packets: 0, bytes: 0, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0, sentRate: 0, receivedRate: 0 },
    other: { packets: 0, bytes: 0, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0, sentRate: 0, receivedRate: 0, byReason: {} },
    interfaces: [],
    retiredConnections: 7,
  } as UsageReport;
}

test('the report written in pieces is exactly JSON.stringify(report, null, 2) and a newline', () => {
  for (const n of [0, 1, 2, 999, 1000, 1001, 2500]) {
    const pieces: string[] = [];
    const r = report(n);
    writeReportJson(r, (text) => pieces.push(text));
    assert.equal(pieces.join(''), `${JSON.stringify(r, null, 2)}\n`, `${n} connections`);
    assert.ok(pieces.every((p) => p.length < 1_000_000), 'no piece holds the whole document');
    assert.deepEqual(JSON.parse(pieces.join('')), r);
  }
});
