// The history agrees with the accountant to the byte: a fixture capture is replayed through
// a Meter packet by packet over five simulated days (connections retiring as they go
// idle), its totals recorded by the recorder on a fake clock and rolled up along the way;
// `netmeter report --json` must then show each process's bytes and packets exactly as the
// replay does — before, during and after every roll-up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Meter } from '../src/account/meter.js';
import type { Attribution } from '../src/account/attribution.js';
import type { PacketBatch } from '../src/capture/packet-batch.js';
import { openCaptureFile } from '../src/capture/open-capture-file.js';
import { ProcFs } from '../src/attribute/proc/proc-fs.js';
import { takeSocketSnapshot } from '../src/attribute/socket-snapshot.js';
import { walkSocketOwnersJs } from '../src/attribute/socket-owners.js';
import { snapshotAttribution } from '../src/cli/replay.js';
import type { UsageReport } from '../src/present/usage-report.js';
import { closeHistory, openHistoryForReading, openHistoryForWriting } from '../src/history/database.js';
import { DEFAULT_CONFIG } from '../src/history/config.js';
import type { Dimension } from '../src/history/queries.js';
import { MeterTotals } from '../src/history/meter-totals.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import { rollUp } from '../src/history/rollup.js';
import { OPEN_END, buildHistoryReport, type HistoryReport } from '../src/history/report-document.js';
import { REPO_ROOT, runCli } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';

const NAME = 'loopback-mixed';
const HOUR = 3600_000;

/** Each packet of a batch as a batch of its own, so time can pass between packets. */
function* singlePackets(batch: PacketBatch): Generator<PacketBatch> {
  for (let i = 0; i < batch.count; i++) {
    yield {
      count: 1,
      data: batch.data,
      offset: batch.offset.subarray(i, i + 1),
      capturedLength: batch.capturedLength.subarray(i, i + 1),
      wireLength: batch.wireLength.subarray(i, i + 1),
      timestamp: batch.timestamp.subarray(i, i + 1),
      packets: null,
      lastTimestamp: null,
      interfaceIndex: batch.interfaceIndex.subarray(i, i + 1),
      interfaces: batch.interfaces,
    };
  }
}

/**
 * The fixture's processes are all "node" run by root: to check each one's bytes apart, the
 * test gives each its own application name and path (pid in both).
 */
function distinctApplications(inner: Attribution): Attribution {
  return {
    isLocal: (address) => inner.isLocal(address),
    owner: (...args) => {
      const p = inner.owner(...args);
      return p && { ...p, name: `${p.name}-${p.pid}`, exe: `/opt/fixture/${p.pid}/node` };
    },
  };
}

async function report(db: string, ...args: string[]): Promise<HistoryReport> {
  const result = await runCli(['report', '--db', db, '--json', '--since', '2000-01-01', ...args]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  return JSON.parse(result.stdout) as HistoryReport;
}

const pick = (r: { sentBytes: number; receivedBytes: number; sentPackets: number; receivedPackets: number }) =>
  [r.sentBytes, r.receivedBytes, r.sentPackets, r.receivedPackets];

test(`${NAME}: report --json per application equals the replay per process, to the byte, across roll-ups`, { timeout: 120_000 }, async () => {
  const tmp = tempDir('history-replay');
  try {
    const snapshot = await takeSocketSnapshot(new ProcFs(join(REPO_ROOT, 'fixtures/proc', NAME)), walkSocketOwnersJs);
    const meter = new Meter(distinctApplications(snapshotAttribution(snapshot, [])));
    const dbPath = join(tmp.dir, 'netmeter.db');
    const db = openHistoryForWriting(dbPath);
    let now = new Date(2026, 5, 27, 21, 40).getTime();
    const recorder = new HistoryRecorder(db, new MeterTotals(meter, { drainRetired: true }), { clock: () => now });
    const retention = { minuteSeconds: 24 * 3600, hourSeconds: 3 * 24 * 3600, daySeconds: null };

    const source = await openCaptureFile(join(REPO_ROOT, 'fixtures/pcap', `${NAME}.pcapng`));
    let packets = 0;
    for await (const batch of source.batches()) {
      for (const one of singlePackets(batch)) {
        meter.ingest(one);
        packets++;
        // Connections idle for a tenth of a second of capture time retire, as idle ones do live.
        meter.retireIdle(one.timestamp[0]! - 0.1);
        // Three hours between packets; on every other one a second flush in the same minute.
        if (packets % 2 === 0) {
          now += 20_000;
          recorder.flush();
        }
        now += 3 * HOUR;
        recorder.flush();
        rollUp(db, now / 1000, retention);
      }
    }
    meter.attributeUnknown();
    now += HOUR;
    recorder.flush();
    assert.equal(packets, 40);
    assert.ok(meter.retiredConnections > 0, 'some records retired on the way');
    const minuteRows = db.prepare<{ n: number }>('SELECT count(*) AS n FROM usage_minute').get()!.n;
    const hourRows = db.prepare<{ n: number }>('SELECT count(*) AS n FROM usage_hour').get()!.n;
    const dayRows = db.prepare<{ n: number }>('SELECT count(*) AS n FROM usage_day').get()!.n;
    assert.ok(minuteRows > 0 && hourRows > 0 && dayRows > 0, `rows at all three resolutions (${minuteRows}/${hourRows}/${dayRows})`);

    // The replay's per-process totals, from `netmeter replay` itself (this meter's retired
    // entries were drained into the history, as the daemon's are).
    const replayed = await runCli(['replay', `fixtures/pcap/${NAME}.pcapng`, '--proc-root', `fixtures/proc/${NAME}`, '--json']);
    assert.equal(replayed.code, 0, replayed.stderr);
    const replay = JSON.parse(replayed.stdout) as UsageReport;
    assert.equal(replay.processes.length, 6);
    assert.equal(replay.unknown.bytes, 0);

    const check = async (when: string) => {
      const byApp = await report(dbPath);
      assert.equal(byApp.rows.length, replay.processes.length, when);
      for (const p of replay.processes) {
        const row = byApp.rows.find((r) => r.app === `${p.name}-${p.pid}`);
        assert.ok(row, `${when}: ${p.name} ${p.pid} missing`);
        assert.equal(row.exe, `/opt/fixture/${p.pid}/node`);
        assert.equal(row.user, undefined);
        assert.deepEqual(pick(row), pick(p), `${when}: ${p.name} ${p.pid}`);
      }
      const processSum = replay.processes.reduce((s, p) => s + p.sentBytes + p.receivedBytes, 0);
      assert.equal(byApp.totals.totalBytes, processSum, when);
      assert.equal(byApp.totals.sentBytes, replay.totals.sentBytes, `${when}: every sent byte on lo is some process's`);
      assert.equal(byApp.totals.receivedBytes, replay.totals.receivedBytes, when);
      // The other views in-process (a CLI start costs a second): the same rows, summed differently.
      const reader = openHistoryForReading(dbPath);
      try {
        const view = (by: Dimension) => buildHistoryReport(reader, dbPath, { range: { since: 0, until: OPEN_END, label: 'all' }, by, filter: {}, now: now / 1000, config: DEFAULT_CONFIG });
        for (const by of ['user', 'interface', 'day', 'hour', 'month'] as const) {
          const other = view(by);
          assert.deepEqual(pick(other.totals), pick(byApp.totals), `${when}: --by ${by}`);
          const rowSum = other.rows.reduce((s, r) => s + r.totalBytes, 0);
          assert.equal(rowSum, processSum, `${when}: --by ${by} rows add up`);
        }
        assert.deepEqual(view('user').rows.map((r) => r.user), ['root']);
        assert.deepEqual(view('interface').rows.map((r) => r.interface), ['lo']);
        assert.ok(view('day').rows.length >= 5, 'five days of traffic');
      } finally {
        closeHistory(reader);
      }
    };
    await check('with minute, hour and day rows');
    // Now everything old: all rows become day rows.
    rollUp(db, now / 1000 + 30 * 24 * 3600, retention);
    assert.equal(db.prepare<{ n: number }>('SELECT count(*) AS n FROM usage_minute').get()!.n, 0);
    assert.equal(db.prepare<{ n: number }>('SELECT count(*) AS n FROM usage_hour').get()!.n, 0);
    closeHistory(db);
    await check('after rolling everything into days');
  } finally {
    tmp.remove();
  }
});
