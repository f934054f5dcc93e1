// One user and one program per row of the history, however each process was found. A process
// read from /proc comes with its user name and executable path; one that ended before the
// read (a short curl) only with what the kernel's event said — its uid and comm. The first
// split `report --by user` into "root" and "0", and `report` into "curl /usr/bin/curl" and
// "curl" with no path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectionRecord, type RetiredTraffic } from '../src/account/meter.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { UserNames } from '../src/attribute/proc/user-names.js';
import { closeHistory, openHistoryForReading, openHistoryForWriting } from '../src/history/database.js';
import { MeterTotals, type MeterView } from '../src/history/meter-totals.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import { DEFAULT_CONFIG } from '../src/history/config.js';
import { buildHistoryReport, OPEN_END } from '../src/history/report-document.js';
import type { Dimension } from '../src/history/queries.js';
import { renderHistoryTable } from '../src/present/history-report-format.js';
import type { UsageTotal } from '../src/history/usage-key.js';
import { tempDir } from './support/live-harness.js';

// As ProcFs.readProcess gives a process it read, and as KernelOwners gives one that ended first.
const curlRead: ProcessInfo = { pid: 10, name: 'curl', cmdline: 'curl http://198.18.0.2/', user: 'root', uid: 0, exe: '/usr/bin/curl' };
const curlGone: ProcessInfo = { pid: 11, name: 'curl', cmdline: '', user: null, uid: 0 };

class FakeMeter implements MeterView {
  readonly live: ConnectionRecord[] = [];
  readonly retired = new Map<string, RetiredTraffic>();
  takeChanges(changed: (record: ConnectionRecord) => void): void {
    for (const r of this.live) changed(r);
  }
  open(owner: ProcessInfo, bytes: number): void {
    const r = new ConnectionRecord('tcp', '198.18.0.1', 40000 + this.live.length, '198.18.0.2', 80, 'eth0');
    r.owner = owner;
    r.received.add(bytes, 1);
    this.live.push(r);
  }
}

test("MeterTotals: a process only the kernel saw is filed under its uid's name, as one read from /proc", () => {
  const meter = new FakeMeter();
  meter.open(curlRead, 1000);
  meter.open(curlGone, 500);
  const totals = new MeterTotals(meter, { userName: (uid) => (uid === 0 ? 'root' : undefined) }).totals();
  assert.deepEqual([...new Set(totals.map((t) => t.user))], ['root']);
});

test('UserNames: names from passwd, re-read (at most once a minute) for a uid it lacks', () => {
  const tmp = tempDir('owner-names');
  try {
    const passwd = join(tmp.dir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\n');
    let now = 0;
    const users = new UserNames(passwd, () => now);
    assert.equal(users.name(0), 'root');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    assert.equal(users.name(1000), undefined, 'not re-read within the minute');
    now = 60_000;
    assert.equal(users.name(1000), 'alice');
    assert.equal(new UserNames(join(tmp.dir, 'missing')).name(0), undefined, 'no passwd: no names, no error');
  } finally {
    tmp.remove();
  }
});

/** A history holding these totals, and a report of it by `by`. */
function reportOf(totals: UsageTotal[], by: Dimension) {
  const tmp = tempDir('owner-names');
  try {
    const path = join(tmp.dir, 'netmeter.db');
    const db = openHistoryForWriting(path);
    let now = new Date(2026, 2, 5, 10, 0).getTime();
    const recorder = new HistoryRecorder(db, { totals: () => totals.map((t) => ({ ...t })) }, { clock: () => now, bootId: 'b' });
    recorder.flush();
    now += 60_000;
    closeHistory(db);
    const reader = openHistoryForReading(path);
    try {
      return buildHistoryReport(reader, path, { range: { since: 0, until: OPEN_END, label: 'all' }, by, filter: {}, now: now / 1000, config: DEFAULT_CONFIG, userName: (uid) => (uid === 0 ? 'root' : undefined) });
    } finally {
      closeHistory(reader);
    }
  } finally {
    tmp.remove();
  }
}

const total = (app: string, exe: string, user: string, receivedBytes: number): UsageTotal => ({ app, exe, user, interface: 'eth0', sentBytes: 0, receivedBytes, sentPackets: 0, receivedPackets: 1 });

test('report --by user: users recorded by uid (older history) join their name', () => {
  const report = reportOf([total('curl', '/usr/bin/curl', 'root', 1000), total('curl', '', '0', 500), total('x', '', '4242', 7)], 'user');
  assert.deepEqual(report.rows.map((r) => [r.user, r.receivedBytes]), [['root', 1500], ['4242', 7]]);
});

test('report: a program recorded without its path joins the only path it has in the range', () => {
  const report = reportOf([total('curl', '/usr/bin/curl', 'root', 1000), total('curl', '', 'root', 500)], 'app');
  assert.deepEqual(report.rows.map((r) => [r.app, r.exe, r.receivedBytes, r.receivedPackets]), [['curl', '/usr/bin/curl', 1500, 2]]);
  assert.equal(report.totals.receivedBytes, 1500);
});

test('report: with two paths for a name nothing says which, so the pathless row stays apart', () => {
  const report = reportOf([total('python3', '/usr/bin/python3', 'root', 1000), total('python3', '/opt/py/bin/python3', 'root', 800), total('python3', '', 'root', 5)], 'app');
  assert.deepEqual(report.rows.map((r) => [r.exe, r.receivedBytes]), [['/usr/bin/python3', 1000], ['/opt/py/bin/python3', 800], [null, 5]]);
  assert.match(renderHistoryTable(report, { graph: false, width: 100 }), /^python3 +\(not read\) +5 B /m);
});
