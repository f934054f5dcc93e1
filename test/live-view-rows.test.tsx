// Rows of the live views from a report: sorting, filtering, and the application and
// remote-host aggregations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionUsage, ProcessUsage, UsageReport } from '../src/present/usage-report.js';
import type { RowOptions } from '../src/present/live/view-rows.js';
import { applicationRows, connectionRows, hostRows, processRows, sortAmount, unknownShare } from '../src/present/live/view-rows.js';
import { Meter } from '../src/account/meter.js';
import type { Attribution } from '../src/account/attribution.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { LinkType, PacketBatchBuilder } from '../src/capture/packet-batch.js';
import { buildUsageReport } from '../src/present/usage-report.js';
import { ipv4, tcp } from './support/packet-builder.js';

function processUsage(p: Partial<ProcessUsage> & Pick<ProcessUsage, 'pid' | 'name'>): ProcessUsage {
  return { cmdline: p.name, user: 'alice', sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0, sentRate: 0, receivedRate: 0, ...p };
}

function connection(c: Partial<ConnectionUsage> & Pick<ConnectionUsage, 'localPort' | 'remoteAddress' | 'pid' | 'name'>): ConnectionUsage {
  return { protocol: 'tcp', localAddress: '192.168.1.10', remotePort: 443, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0, packets: 0, ...c };
}

const emptyBucket = { packets: 0, bytes: 0, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };

function report(processes: ProcessUsage[], connections: ConnectionUsage[] = [], unknownBytes = 0): UsageReport {
  return {
    version: 1,
    source: { kind: 'live', interfaces: ['eth0'], packets: 0, bytes: 0 },
    durationSeconds: 10,
    totals: { packets: 0, bytes: 0, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 },
    processes,
    connections,
    unknown: { ...emptyBucket, bytes: unknownBytes },
    other: { ...emptyBucket, byReason: {} },
    interfaces: [],
    retiredConnections: 0,
  };
}

const options = (o: Partial<RowOptions> = {}): RowOptions => ({ sort: 'total', measure: 'rate', filter: '', ...o });

const browser = report([
  processUsage({ pid: 2001, name: 'firefox', exe: '/usr/lib/firefox/firefox', sentRate: 2000, receivedRate: 150000, sentBytes: 40000, receivedBytes: 9_000_000 }),
  processUsage({ pid: 2002, name: 'Web Content', exe: '/usr/lib/firefox/firefox', cmdline: '/usr/lib/firefox/firefox -contentproc', user: 'bob', sentRate: 1000, receivedRate: 50000, sentBytes: 20000, receivedBytes: 3_000_000 }),
  processUsage({ pid: 1500, name: 'ssh', exe: '/usr/bin/ssh', cmdline: 'ssh backup@198.51.100.7', sentRate: 100000, receivedRate: 1000, sentBytes: 5_000_000, receivedBytes: 200_000 }),
  processUsage({ pid: 3100, name: 'curl', exited: true, sentBytes: 500, receivedBytes: 20_000_000 }),
  processUsage({ pid: 3200, name: 'curl', exited: true, sentBytes: 300, receivedBytes: 1000 }),
]);

const pids = (rows: Array<{ pid: number | null }>) => rows.map((r) => r.pid);

test('processes sort descending by the chosen direction and measure', () => {
  assert.deepEqual(pids(processRows(browser, options({ sort: 'upload' }))), [1500, 2001, 2002, 3100, 3200]);
  assert.deepEqual(pids(processRows(browser, options({ sort: 'download' }))), [2001, 2002, 1500, 3100, 3200]);
  assert.deepEqual(pids(processRows(browser, options({ sort: 'total' }))), [2001, 1500, 2002, 3100, 3200]);
  assert.deepEqual(pids(processRows(browser, options({ sort: 'total', measure: 'total' }))), [3100, 2001, 1500, 2002, 3200]);
  assert.deepEqual(pids(processRows(browser, options({ sort: 'upload', measure: 'total' }))), [1500, 2001, 2002, 3100, 3200]);
});

test('ties order by pid, with a process without pid last', () => {
  const tied = report([
    processUsage({ pid: null, name: 'kernel', sentRate: 5 }),
    processUsage({ pid: 900, name: 'b', sentRate: 5 }),
    processUsage({ pid: 30, name: 'a', sentRate: 5 }),
  ]);
  assert.deepEqual(pids(processRows(tied, options({ sort: 'upload' }))), [30, 900, null]);
});

test('sortAmount reads rates or totals', () => {
  const row = { sentBytes: 10, receivedBytes: 20, sentRate: 1, receivedRate: 2 };
  assert.equal(sortAmount(row, 'upload', 'rate'), 1);
  assert.equal(sortAmount(row, 'download', 'total'), 20);
  assert.equal(sortAmount(row, 'total', 'rate'), 3);
  assert.equal(sortAmount(row, 'total', 'total'), 30);
});

test('the filter matches name, command line or executable, ignoring case', () => {
  assert.deepEqual(pids(processRows(browser, options({ filter: 'FIREFOX' }))), [2001, 2002], 'by name and by executable');
  assert.deepEqual(pids(processRows(browser, options({ filter: 'backup@' }))), [1500], 'by command line');
  assert.deepEqual(pids(processRows(browser, options({ filter: 'nothing' }))), []);
});

test('exited processes are marked', () => {
  assert.deepEqual(
    processRows(browser, options()).filter((r) => r.exited).map((r) => r.pid),
    [3100, 3200],
  );
});

test('applications sum the processes of one executable, else of one name', () => {
  const apps = applicationRows(browser, options());
  assert.deepEqual(
    apps.map((a) => [a.name, a.pids]),
    [
      ['firefox', [2001, 2002]],
      ['ssh', [1500]],
      ['curl', [3100, 3200]],
    ],
  );
  const firefox = apps[0]!;
  assert.equal(firefox.exe, '/usr/lib/firefox/firefox');
  assert.deepEqual([firefox.sentRate, firefox.receivedRate, firefox.sentBytes, firefox.receivedBytes], [3000, 200000, 60000, 12_000_000]);
  assert.equal(firefox.user, null, 'alice and bob: no single user');
  assert.equal(apps[1]!.user, 'alice');
  assert.equal(firefox.exited, false);
  const curl = apps[2]!;
  assert.equal(curl.exited, true, 'every curl exited');
  assert.deepEqual([curl.sentBytes, curl.receivedBytes], [800, 20_001_000]);
});

test('applications sort like processes and see only filtered processes', () => {
  assert.deepEqual(applicationRows(browser, options({ measure: 'total' })).map((a) => a.name), ['curl', 'firefox', 'ssh']);
  assert.deepEqual(applicationRows(browser, options({ filter: 'contentproc' })).map((a) => [a.name, a.pids, a.receivedBytes]), [['Web Content', [2002], 3_000_000]]);
});

const withConnections = report(browser.processes, [
  connection({ localPort: 51000, remoteAddress: '93.184.216.34', pid: 2001, name: 'firefox', sentBytes: 30000, receivedBytes: 8_000_000, sentRate: 1500, receivedRate: 120000 }),
  connection({ localPort: 51002, remoteAddress: '93.184.216.34', pid: 2002, name: 'Web Content', sentBytes: 20000, receivedBytes: 3_000_000, sentRate: 1000, receivedRate: 50000 }),
  connection({ localPort: 52000, remoteAddress: '93.184.216.34', pid: 3100, name: 'curl', sentBytes: 500, receivedBytes: 20_000_000 }),
  connection({ localPort: 40222, remoteAddress: '198.51.100.7', remotePort: 22, pid: 1500, name: 'ssh', sentBytes: 5_000_000, receivedBytes: 200_000, sentRate: 100000, receivedRate: 1000 }),
  connection({ protocol: 'udp', localAddress: 'fd00::10', localPort: 41000, remoteAddress: 'fd00::1', remotePort: 53, pid: null, name: null, sentBytes: 100, receivedBytes: 200 }),
]);

test('connections read as endpoints, rates default to 0, and can be narrowed to one pid', () => {
  const rows = connectionRows(withConnections, options({ sort: 'upload' }));
  assert.deepEqual(rows.map((r) => r.remote), ['198.51.100.7:22', '93.184.216.34:443', '93.184.216.34:443', '93.184.216.34:443', '[fd00::1]:53']);
  assert.deepEqual(pids(rows.slice(3)), [3100, null], 'idle ones by pid, the unowned last');
  const unowned = rows.find((r) => r.pid === null)!;
  assert.deepEqual([unowned.local, unowned.sentRate, unowned.receivedRate], ['[fd00::10]:41000', 0, 0]);
  assert.deepEqual(connectionRows(withConnections, options(), 2002).map((r) => r.local), ['192.168.1.10:51002']);
});

test('the connection filter matches the owner, its command line and the remote address', () => {
  assert.deepEqual(pids(connectionRows(withConnections, options({ filter: 'contentproc' }))), [2002]);
  assert.deepEqual(pids(connectionRows(withConnections, options({ filter: '198.51' }))), [1500]);
});

test('hosts group connections by remote address, with the programs talking to each', () => {
  const hosts = hostRows(withConnections, options({ measure: 'total' }));
  assert.deepEqual(
    hosts.map((h) => [h.remoteAddress, h.connections, h.programs, h.sentBytes, h.receivedBytes, h.sentRate, h.receivedRate]),
    [
      ['93.184.216.34', 3, ['firefox', 'Web Content', 'curl'], 50500, 31_000_000, 2500, 170000],
      ['198.51.100.7', 1, ['ssh'], 5_000_000, 200_000, 100000, 1000],
      ['fd00::1', 1, ['unknown'], 100, 200, 0, 0],
    ],
  );
  assert.deepEqual(hostRows(withConnections, options({ sort: 'upload' })).map((h) => h.remoteAddress), ['198.51.100.7', '93.184.216.34', 'fd00::1']);
  const curlOnly = hostRows(withConnections, options({ filter: 'curl' }));
  assert.deepEqual(curlOnly.map((h) => [h.remoteAddress, h.connections, h.receivedBytes]), [['93.184.216.34', 1, 20_000_000]], 'a filter narrows the connections counted');
});

test('unknownShare is the unknown part of process and unknown bytes', () => {
  const small = report([processUsage({ pid: 1, name: 'a', sentBytes: 600, receivedBytes: 150 })], [], 250);
  assert.equal(unknownShare(small), 0.25);
  assert.equal(unknownShare(report([])), null);
  assert.equal(unknownShare(report([], [], 10)), 1);
});

test('applications from the meter: the report carries each owner\'s executable, so one program\'s processes make one row', () => {
  // Firefox names its content processes "Web Content": only the executable tells they are firefox.
  const FIREFOX = '/usr/lib/firefox/firefox';
  const owners = new Map<number, ProcessInfo>([
    [40001, { pid: 2001, name: 'firefox', cmdline: FIREFOX, user: 'alice', uid: 1000, exe: FIREFOX }],
    [40002, { pid: 2002, name: 'Web Content', cmdline: `${FIREFOX} -contentproc`, user: 'alice', uid: 1000, exe: FIREFOX }],
    [40003, { pid: 1500, name: 'ssh', cmdline: 'ssh backup', user: 'alice', uid: 1000, exe: '/usr/bin/ssh' }],
    [40004, { pid: 3100, name: 'kworker', cmdline: '', user: 'root', uid: 0 }],
  ]);
  const attribution: Attribution = { isLocal: (a) => a === '198.18.0.1', owner: (_protocol, _local, localPort) => owners.get(localPort) };
  const builder = new PacketBatchBuilder(4);
  const packets = [...owners.keys()].map((port) => ipv4('198.18.5.5', '198.18.0.1', 6, tcp(443, port)));
  let offset = 0;
  for (const [i, packet] of packets.entries()) {
    builder.push(offset, packet.length, 1000 * (i + 1), 1000 + i, 0);
    offset += packet.length;
  }
  const meter = new Meter(attribution);
  meter.ingest(builder.take(Buffer.concat(packets), [{ name: 'test0', linkType: LinkType.RAW }]));
  const usage = buildUsageReport(meter, { kind: 'live', interfaces: ['test0'] }, 1);
  assert.deepEqual(usage.processes.map((p) => [p.pid, p.exe]), [[3100, undefined], [1500, '/usr/bin/ssh'], [2002, FIREFOX], [2001, FIREFOX]]);
  assert.ok(!('exe' in usage.processes[0]!), 'no exe key when the executable is unknown');
  assert.deepEqual(
    applicationRows(usage, options({ measure: 'total' })).map((a) => [a.name, a.exe, a.pids, a.receivedBytes]),
    [
      ['kworker', null, [3100], 4000],
      ['ssh', '/usr/bin/ssh', [1500], 3000],
      ['firefox', FIREFOX, [2001, 2002], 3000],
    ],
  );
});
