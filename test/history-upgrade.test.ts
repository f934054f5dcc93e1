// A history written by the 0.1.0 release (fixtures/history/release-0.1.0.db, recorded by
// its daemon on lo) opens and upgrades in place: every migration added since runs, and
// every byte it held is still reported, before the upgrade and after.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { SCHEMA_VERSION, schemaVersion } from '../src/history/schema.js';
import { REPO_ROOT, runCli } from './support/run-cli.js';

const RELEASE_DB = join(REPO_ROOT, 'fixtures/history/release-0.1.0.db');
/** When the fixture was recorded: its day is the one reported. */
const RECORDED = '2026-12-05 12:00';

test("a database from the 0.1.0 release upgrades in place and keeps every byte", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nm-upgrade-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'netmeter.db');
  copyFileSync(RELEASE_DB, path);
  const report = async () => {
    const result = await runCli(['report', '--db', path, '--now', RECORDED, '--by', 'app', '--json']);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as { rows: Array<{ sentBytes: number; receivedBytes: number }> };
  };
  const before = await report();
  const sum = (r: typeof before) => r.rows.reduce((n, row) => n + row.sentBytes + row.receivedBytes, 0);
  // 30 datagrams of 1,000 bytes on lo, 1,042 bytes each as captured, sent and received.
  assert.equal(sum(before), 2 * 30 * 1042);

  // What the old release never stored cannot be read before the daemon adds its tables: one line says so.
  const alerts = await runCli(['alerts', '--db', path]);
  assert.equal(alerts.code, 1);
  assert.match(alerts.stderr, /^netmeter: .* has an older history format \(version 1\): run the daemon once \(sudo netmeter daemon\) to update it\n$/);

  const db = openHistoryForWriting(path);
  assert.equal(schemaVersion(db), SCHEMA_VERSION, 'migrated to the current schema');
  closeHistory(db);
  assert.deepEqual(await report(), before, 'the same report after the upgrade');
});
