// MeterTotals: the meter's records and retired totals as per-application totals that only
// grow — through late attribution, retirement (of records seen and never seen) and draining.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRecord, retiredKey, type RetiredTraffic } from '../src/account/meter.js';
import { Traffic } from '../src/account/counters.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { MeterTotals, type MeterView } from '../src/history/meter-totals.js';
import { UNKNOWN_APP, type UsageTotal } from '../src/history/usage-key.js';

const firefox: ProcessInfo = { pid: 100, name: 'firefox', cmdline: 'firefox', user: 'alice', uid: 1000, exe: '/usr/lib/firefox/firefox', startTime: 5 };
const curl: ProcessInfo = { pid: 200, name: 'curl', cmdline: 'curl x', user: null, uid: 1001, startTime: 9 };

/** A meter as MeterTotals sees it, driven by hand the way Meter changes. */
class FakeMeter implements MeterView {
  live: ConnectionRecord[] = [];
  readonly retired = new Map<string, RetiredTraffic>();
  /** Retired since the last takeChanges (Meter keeps only those it handed out; handing out more is as good). */
  private gone: ConnectionRecord[] = [];
  /** As Meter.takeChanges, taking every live record as changed. */
  takeChanges(changed: (record: ConnectionRecord) => void, retired: (record: ConnectionRecord) => void): void {
    for (const r of this.gone.splice(0)) retired(r);
    for (const r of this.live) changed(r);
  }
  open(owner: ProcessInfo | undefined, iface = 'eth0'): ConnectionRecord {
    const r = new ConnectionRecord('tcp', '198.18.0.1', 40000 + this.live.length, '198.19.0.1', 443, iface);
    r.owner = owner;
    this.live.push(r);
    return r;
  }
  /** As Meter.retire: the record's traffic joins its owner's retired entry and leaves the table. */
  retire(record: ConnectionRecord): void {
    this.live = this.live.filter((r) => r !== record);
    this.gone.push(record);
    const key = retiredKey(record.owner, record.interfaceName);
    let entry = this.retired.get(key);
    if (!entry) this.retired.set(key, (entry = { process: record.owner, interfaceName: record.interfaceName, traffic: new Traffic() }));
    entry.traffic.addTraffic(record);
  }
}

function move(r: Traffic, sent: number, received: number): void {
  if (sent) r.sent.add(sent, 1);
  if (received) r.received.add(received, 1);
}

const byApp = (totals: UsageTotal[]) => Object.fromEntries(totals.map((t) => [`${t.app}|${t.interface}`, [t.sentBytes, t.receivedBytes]]));

test('live records and retired traffic are summed per application, user and interface', () => {
  const meter = new FakeMeter();
  const totals = new MeterTotals(meter, { userName: () => undefined }); // a uid without a name, whatever this host's passwd says
  const a = meter.open(firefox);
  const b = meter.open(firefox, 'wlan0');
  const c = meter.open(curl);
  move(a, 100, 1000);
  move(b, 10, 20);
  move(c, 5, 50);
  const first = totals.totals();
  assert.deepEqual(byApp(first), { 'firefox|eth0': [100, 1000], 'firefox|wlan0': [10, 20], 'curl|eth0': [5, 50] });
  const curlRow = first.find((t) => t.app === 'curl')!;
  assert.equal(curlRow.user, '1001', 'no user name: the uid stands in');
  assert.equal(curlRow.exe, '');
  assert.equal(first.find((t) => t.app === 'firefox')!.exe, '/usr/lib/firefox/firefox');
  move(a, 1, 1);
  assert.deepEqual(byApp(totals.totals())['firefox|eth0'], [101, 1001]);
});

test('bytes credited to (unknown) stay there when the owner is found later; nothing goes down or counts twice', () => {
  const meter = new FakeMeter();
  const totals = new MeterTotals(meter);
  const r = meter.open(undefined);
  move(r, 300, 700);
  assert.deepEqual(byApp(totals.totals()), { [`${UNKNOWN_APP}|eth0`]: [300, 700] });
  r.owner = firefox; // the next /proc read found it
  move(r, 10, 20);
  const after = byApp(totals.totals());
  assert.deepEqual(after, { [`${UNKNOWN_APP}|eth0`]: [300, 700], 'firefox|eth0': [10, 20] });
  // All together still equal what the record carried.
  const sum = Object.values(after).reduce((s, [x, y]) => s + x! + y!, 0);
  assert.equal(sum, r.sent.bytes + r.received.bytes);
});

test('a retired record moves nothing; the bytes it got before retiring are credited once', () => {
  const meter = new FakeMeter();
  const totals = new MeterTotals(meter);
  const r = meter.open(firefox);
  move(r, 100, 100);
  totals.totals();
  move(r, 50, 0); // after the flush, before going idle
  meter.retire(r);
  assert.deepEqual(byApp(totals.totals()), { 'firefox|eth0': [150, 100] });
  assert.deepEqual(byApp(totals.totals()), { 'firefox|eth0': [150, 100] }, 'stable when nothing moves');
});

test('connections that open and retire between two reads are credited from the retired totals', () => {
  const meter = new FakeMeter();
  const totals = new MeterTotals(meter);
  const seen = meter.open(curl);
  move(seen, 1, 1);
  totals.totals();
  const unseen = meter.open(curl);
  move(unseen, 40, 60);
  meter.retire(unseen);
  move(seen, 2, 2);
  meter.retire(seen);
  assert.deepEqual(byApp(totals.totals()), { 'curl|eth0': [43, 63] });
});

test('a record found unknown, then attributed, then retired: its bytes split at the read, the rest with the owner', () => {
  const meter = new FakeMeter();
  const totals = new MeterTotals(meter);
  const r = meter.open(undefined);
  move(r, 10, 10);
  totals.totals();
  move(r, 5, 5);
  r.owner = curl;
  meter.retire(r);
  assert.deepEqual(byApp(totals.totals()), { [`${UNKNOWN_APP}|eth0`]: [10, 10], 'curl|eth0': [5, 5] });
});

test('draining retired entries keeps the totals and leaves the meter without them', () => {
  const meter = new FakeMeter();
  const totals = new MeterTotals(meter, { drainRetired: true });
  for (let i = 0; i < 5; i++) {
    const r = meter.open({ ...curl, pid: 300 + i });
    move(r, 100, 1);
    meter.retire(r);
    assert.deepEqual(byApp(totals.totals()), { 'curl|eth0': [100 * (i + 1), i + 1] });
    assert.equal(meter.retired.size, 0);
  }
  // The same process retiring again after its entry was drained starts a new entry from zero.
  const again = meter.open({ ...curl, pid: 300 });
  move(again, 7, 7);
  meter.retire(again);
  assert.deepEqual(byApp(totals.totals()), { 'curl|eth0': [507, 12] });
});
