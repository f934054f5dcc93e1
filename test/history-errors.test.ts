// Bad input to `netmeter report` and `netmeter daemon` — a corrupt, locked, foreign or
// missing database, a path that cannot be written, a date that does not exist, a bad config
// value — each ends in one line on stderr naming the problem, exit code 1 (2 for usage,
// followed by the CLI's usual hint line), and no stack trace. And a report needs no
// privilege: any user who may read the database can run it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import { CLI, REPO_ROOT, runCli, type CliResult } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** A small valid history: one application's minute of traffic at a fixed time. */
function makeHistory(path: string): void {
  const db = openHistoryForWriting(path);
  const now = new Date(2026, 2, 14, 10, 0).getTime();
  new HistoryRecorder(db, { totals: () => [{ app: 'curl', exe: '/usr/bin/curl', user: 'alice', interface: 'eth0', sentBytes: 100, receivedBytes: 2000, sentPackets: 1, receivedPackets: 2 }] }, { clock: () => now }).flush();
  closeHistory(db);
}

/** One line naming the problem (usage errors: plus the hint line), the exit code, no stack trace. */
function assertOneLineError(result: CliResult, code: 1 | 2, message: RegExp): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  assert.equal(result.stdout, '');
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(result.stderr, /--debug|unexpected/, 'an expected error, not a bug report');
  const lines = result.stderr.trimEnd().split('\n');
  if (code === 2) assert.deepEqual(lines.slice(1), ["Try 'netmeter report --help'."]);
  else assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0]!, /^netmeter: /);
  assert.match(lines[0]!, message);
}

function runAs(uid: number, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, uid, gid: uid, env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('report: a corrupt database file', async () => {
  const tmp = tempDir('history-errors');
  try {
    const path = join(tmp.dir, 'netmeter.db');
    writeFileSync(path, 'this is not SQLite, just garbage\n'.repeat(200));
    assertOneLineError(await runCli(['report', '--db', path]), 1, /netmeter\.db is damaged or is not a database \(SQLite: file is not a database\)/);
    // A real database with its pages overwritten past the header.
    const damaged = join(tmp.dir, 'damaged.db');
    makeHistory(damaged);
    const db = new Database(damaged);
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.close();
    const bytes = Buffer.alloc(4096 * (pages - 1), 0xa5);
    const fd = await import('node:fs').then((fs) => fs.openSync(damaged, 'r+'));
    await import('node:fs').then((fs) => { fs.writeSync(fd, bytes, 0, bytes.length, 4096); fs.closeSync(fd); });
    assertOneLineError(await runCli(['report', '--db', damaged, '--day', '2026-03-14']), 1, /damaged\.db is damaged or is not a database/);
  } finally {
    tmp.remove();
  }
});

test('report and daemon: a database another connection holds an exclusive lock on', { timeout: 30_000 }, async () => {
  const tmp = tempDir('history-errors');
  try {
    const path = join(tmp.dir, 'netmeter.db');
    makeHistory(path);
    const holder = new Database(path);
    holder.pragma('journal_mode = WAL');
    // Exclusive locking mode in WAL: no other connection may even read.
    holder.pragma('locking_mode = EXCLUSIVE');
    holder.exec('BEGIN EXCLUSIVE');
    holder.prepare("INSERT INTO series (app, exe, user, interface) VALUES ('x', '', '', 'lo')").run();
    try {
      assertOneLineError(await runCli(['report', '--db', path]), 1, /netmeter\.db is locked by another process .*try again in a moment/);
      assertOneLineError(await runCli(['daemon', '--db', path, '-i', 'lo']), 1, /netmeter\.db is locked by another process .*another netmeter daemon/);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  } finally {
    tmp.remove();
  }
});

test('report: no database, or an SQLite file that is not a netmeter history', async () => {
  const tmp = tempDir('history-errors');
  try {
    assertOneLineError(await runCli(['report', '--db', join(tmp.dir, 'none.db')]), 1, /no history database at .*none\.db: start the daemon/);
    const foreign = join(tmp.dir, 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)');
    db.close();
    assertOneLineError(await runCli(['report', '--db', foreign]), 1, /foreign\.db is an SQLite database, but not a netmeter history/);
  } finally {
    tmp.remove();
  }
});

test('daemon: a database path that cannot be written', async () => {
  const tmp = tempDir('history-errors');
  try {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'x');
    assertOneLineError(await runCli(['daemon', '--db', join(file, 'netmeter.db'), '-i', 'lo']), 1, /cannot create the directory .*a-file for the history database \(E(NOTDIR|EXIST)\): choose a writable place with --db/);
    assertOneLineError(await runCli(['daemon', '--db', tmp.dir, '-i', 'lo']), 1, /is a directory: --db takes the database file's path/);
    // Where mkdir fails with ENOENT under an existing parent (Node's recursive mkdir would spin).
    assertOneLineError(await runCli(['daemon', '--db', '/proc/netmeter-test/netmeter.db', '-i', 'lo'], { timeoutMs: 10_000 }), 1, /cannot create the directory \/proc\/netmeter-test for the history database \(ENOENT\)/);
  } finally {
    tmp.remove();
  }
});

test('daemon as an unprivileged user: the missing privileges are said before the root-owned directory', { skip: isRoot ? false : 'needs root to run the daemon as nobody' }, async () => {
  const tmp = tempDir('history-errors');
  try {
    chmodSync(tmp.dir, 0o755);
    const result = await runAs(NOBODY, ['daemon', '--db', join(tmp.dir, 'netmeter.db'), '-i', 'lo']);
    // The privileges first (test/daemon-privileges.test.ts): nothing is created without them.
    assertOneLineError(result, 1, /capturing on lo needs privileges: run with sudo/);
  } finally {
    tmp.remove();
  }
});

test('report: dates, months, ranges and options that are wrong are usage errors', async () => {
  const tmp = tempDir('history-errors');
  try {
    const path = join(tmp.dir, 'netmeter.db');
    makeHistory(path);
    const cases: Array<[string[], RegExp]> = [
      [['--day', '2026-13-45'], /--day: '2026-13-45' is not a date \(YYYY-MM-DD, today or yesterday\)/],
      [['--month', '2026-13'], /--month: '2026-13' is not a month \(YYYY-MM\)/],
      [['--since', '2026-03-10', '--until', '2026-03-01 00:00'], /--until must be later than --since/],
      [['--by', 'week'], /--by: 'week' is not one of app, user, host, interface, day, hour, month/],
      [['--day', 'today', '--month'], /give one of --day, --month, or --since\/--until/],
      [['--graph', '--json'], /--graph draws in the terminal/],
    ];
    for (const [args, message] of cases) assertOneLineError(await runCli(['report', '--db', path, ...args]), 2, message);
  } finally {
    tmp.remove();
  }
});

test('report: a bad config value (a negative price), and a config file that is not JSON', async () => {
  const tmp = tempDir('history-errors');
  try {
    const path = join(tmp.dir, 'netmeter.db');
    makeHistory(path);
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, '{"pricePerGB": -0.5, "currency": "EUR"}\n');
    assertOneLineError(await runCli(['report', '--db', path, '--config', config]), 1, /config .*config\.json: pricePerGB must be a number of at least 0 \(got -0\.5\)/);
    writeFileSync(config, '{"pricePerGB": 0.5,,}\n');
    assertOneLineError(await runCli(['report', '--db', path, '--config', config]), 1, /config .*config\.json is not valid JSON/);
  } finally {
    tmp.remove();
  }
});

test('report needs no privilege: an unprivileged user reads a root-owned database, daemon running or not', { skip: isRoot ? false : 'needs root to make a root-owned database' }, async () => {
  const tmp = tempDir('history-errors');
  try {
    chmodSync(tmp.dir, 0o755);
    const dir = join(tmp.dir, 'var-lib-netmeter');
    mkdirSync(dir, { mode: 0o755 });
    const path = join(dir, 'netmeter.db');
    makeHistory(path); // closed: back to a rollback journal, no -wal or -shm to create
    let result = await runAs(NOBODY, ['report', '--db', path, '--day', '2026-03-14', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { totals: { totalBytes: number } }).totals.totalBytes, 2100);
    // With the daemon's connection open (WAL, its -shm readable but not writable by others).
    const writer = openHistoryForWriting(path);
    try {
      result = await runAs(NOBODY, ['report', '--db', path, '--day', '2026-03-14', '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { totals: { totalBytes: number } }).totals.totalBytes, 2100);
    } finally {
      closeHistory(writer);
    }
    // A file the user may not read is named as such.
    chmodSync(path, 0o600);
    assertOneLineError(await runAs(NOBODY, ['report', '--db', path]), 1, /cannot read the history database .*netmeter\.db/);
  } finally {
    tmp.remove();
  }
});
