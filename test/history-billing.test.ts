// The cost column and the billing block price the same interfaces, and each says what it
// prices: COST, the applications' captured bytes on the billed interfaces; the billing
// period, those interfaces' kernel counters (all their traffic, owned or not). Loopback is
// not billed unless the config lists it, and both say so, with the setting that bills it.
// The case from the issue: {"pricePerGB":0.5,"quotaGB":1} with only lo recorded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import type { HistoryReport } from '../src/history/report-document.js';
import type { UsageTotal } from '../src/history/usage-key.js';
import { runCli } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';

const local = (y: number, m: number, d: number, h = 0, min = 0) => new Date(y, m - 1, d, h, min).getTime();
const NOW = ['--now', '2026-03-05 12:00'];

/**
 * On March 5 at 10:00: curl moved 400 MB over lo (captured, and lo's kernel counters), and,
 * when `eth0` is set, firefox 100 MB over eth0 while eth0's kernel counters grew by 120 MB
 * (20 MB that no application owned: DNS, ICMP, another host's).
 */
function buildHistory(path: string, eth0: boolean): void {
  const db = openHistoryForWriting(path);
  let now = local(2026, 3, 5, 10, 0);
  const totals: UsageTotal[] = [];
  const recorder = new HistoryRecorder(db, { totals: () => totals.map((t) => ({ ...t })) }, { clock: () => now, bootId: 'b' });
  const zero = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
  recorder.flush([{ name: 'lo', counters: zero }, ...(eth0 ? [{ name: 'eth0', counters: zero }] : [])]);
  totals.push({ app: 'curl', exe: '/usr/bin/curl', user: 'root', interface: 'lo', sentBytes: 200e6, receivedBytes: 200e6, sentPackets: 1, receivedPackets: 1 });
  if (eth0) totals.push({ app: 'firefox', exe: '/usr/bin/firefox', user: 'alice', interface: 'eth0', sentBytes: 10e6, receivedBytes: 90e6, sentPackets: 1, receivedPackets: 1 });
  now = local(2026, 3, 5, 10, 1);
  recorder.flush([
    { name: 'lo', counters: { rxBytes: 200e6, txBytes: 200e6, rxPackets: 1, txPackets: 1 } },
    ...(eth0 ? [{ name: 'eth0', counters: { rxBytes: 105e6, txBytes: 15e6, rxPackets: 1, txPackets: 1 } }] : []),
  ]);
  closeHistory(db);
}

async function report(dir: string, eth0: boolean, config: object, json: boolean): Promise<string> {
  const db = join(dir, `${eth0}.db`);
  buildHistory(db, eth0);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const result = await runCli(['report', '--db', db, '--config', configPath, ...NOW, ...(json ? ['--json'] : [])]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

test('only lo recorded, default config: COST and billing both leave lo out, and say how to bill it', async () => {
  const tmp = tempDir('history-billing');
  try {
    const config = { pricePerGB: 0.5, quotaGB: 1, currency: 'EUR' };
    const doc = JSON.parse(await report(tmp.dir, false, config, true)) as HistoryReport;
    assert.equal(doc.rows[0]!.app, 'curl');
    assert.equal(doc.rows[0]!.totalBytes, 400e6);
    assert.equal(doc.rows[0]!.billedBytes, 0);
    assert.equal(doc.rows[0]!.cost, 0, 'lo is not billed, so curl costs nothing');
    assert.equal(doc.totals.cost, 0);
    assert.equal(doc.billing!.usedBytes, 0);
    assert.equal(doc.billing!.cost, 0, 'the table and the billing block agree');
    const hint = `lo is left out by default; to bill it, set the history setting "interfaces": ["lo"] in ${join(tmp.dir, 'config.json')}`;
    assert.deepEqual(doc.costBasis, { source: 'capture', interfaces: [], note: hint });
    assert.equal(doc.billing!.note, hint);

    const text = await report(tmp.dir, false, config, false);
    assert.match(text, /^total .* 0\.00 EUR$/m);
    assert.ok(text.includes("COST: each row's captured traffic on billed interfaces (none in this range) at 0.50 EUR per GB.\n"), text);
    assert.ok(text.includes(`\n      ${hint}.\n`), text);
    assert.ok(text.includes('(day 5 of 31; no billed interface recorded yet):\n'), text);
    assert.ok(text.includes(`\n  note       ${hint}.\n  used       0 B, cost so far 0.00 EUR\n`), text);
  } finally {
    tmp.remove();
  }
});

test('lo in "interfaces": both price lo — the captured bytes per application, the kernel counters for the period', async () => {
  const tmp = tempDir('history-billing');
  try {
    const doc = JSON.parse(await report(tmp.dir, false, { pricePerGB: 0.5, quotaGB: 1, interfaces: ['lo'] }, true)) as HistoryReport;
    assert.equal(doc.rows[0]!.cost, 0.2);
    assert.equal(doc.totals.cost, 0.2);
    assert.deepEqual(doc.costBasis, { source: 'capture', interfaces: ['lo'] });
    assert.deepEqual(doc.billing!.interfaces, ['lo']);
    assert.equal(doc.billing!.usedBytes, 400e6);
    assert.equal(doc.billing!.cost, 0.2);
    assert.equal(doc.billing!.note, undefined);
  } finally {
    tmp.remove();
  }
});

test('eth0 and lo: COST prices eth0 only, per application; billing prices all of eth0 (20 MB no application owned too)', async () => {
  const tmp = tempDir('history-billing');
  try {
    const config = { pricePerGB: 1, currency: 'EUR' };
    const doc = JSON.parse(await report(tmp.dir, true, config, true)) as HistoryReport;
    const cost = Object.fromEntries(doc.rows.map((r) => [r.app, r.cost]));
    assert.deepEqual(cost, { curl: 0, firefox: 0.1 });
    assert.equal(doc.totals.totalBytes, 500e6);
    assert.equal(doc.totals.billedBytes, 100e6);
    assert.equal(doc.totals.cost, 0.1);
    assert.deepEqual(doc.costBasis!.interfaces, ['eth0']);
    assert.deepEqual(doc.billing!.interfaces, ['eth0']);
    assert.equal(doc.billing!.cost, 0.12);
    assert.match(doc.costBasis!.note!, /^lo is left out by default; to bill it, set the history setting "interfaces": \["eth0","lo"\] in /);
    const text = await report(tmp.dir, true, config, false);
    assert.ok(text.includes("COST: each row's captured traffic on eth0 at 1.00 EUR per GB.\n"), text);
    assert.ok(text.includes('(day 5 of 31; kernel counters of eth0, all traffic):\n'), text);
  } finally {
    tmp.remove();
  }
});
