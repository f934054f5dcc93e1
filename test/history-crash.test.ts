// Nothing lost: a recorder process writing every 50 ms is killed with SIGKILL, again and
// again, at random moments (mid-flush, mid-roll-up); the database must stay intact and hold
// exactly what was committed — the traffic of at most one flush interval is missing. SIGTERM
// instead flushes everything and exits 0.
//
// The child is this same file, started with NETMETER_HISTORY_CHILD set: it records synthetic
// totals (2000 applications, growing every 10 ms) and prints a line before and after each
// flush, so the test knows which states the database may be in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { closeHistory, openHistoryForWriting } from '../src/history/database.js';
import { HistoryRecorder } from '../src/history/recorder.js';
import { rollUp } from '../src/history/rollup.js';
import type { UsageTotal } from '../src/history/usage-key.js';
import { LineWatcher, sleep, tempDir, within } from './support/live-harness.js';

interface ChildConfig {
  db: string;
  /** Simulated clock's start for this run (ms). */
  start: number;
  /** Real time the synthetic kernel counter counts from (ms), the same in every run. */
  counterEpoch: number;
  flushMs: number;
}

interface FlushLine {
  phase: 'pending' | 'committed' | 'final';
  apps: number;
  rx: number;
}

const APPS = 2000;

async function runChild(config: ChildConfig): Promise<void> {
  const db = openHistoryForWriting(config.db);
  const totals: UsageTotal[] = Array.from({ length: APPS }, (_, i) => ({
    app: `app${i}`, exe: `/usr/bin/app${i}`, user: i % 2 ? 'alice' : 'bob', interface: i % 3 ? 'eth0' : 'wlan0',
    sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0,
  }));
  let simulated = config.start;
  const recorder = new HistoryRecorder(db, { totals: () => totals }, { clock: () => simulated, bootId: 'crash-test-boot' });
  const grow = setInterval(() => {
    for (const [i, t] of totals.entries()) {
      t.sentBytes += 100 + i;
      t.receivedBytes += 1000 + i;
      t.sentPackets += 1;
      t.receivedPackets += 1;
    }
  }, 10);
  const appBytes = () => totals.reduce((s, t) => s + t.sentBytes + t.receivedBytes, 0);
  // A kernel counter that keeps counting across runs, as an interface's does while the daemon is down.
  const rx = () => Math.floor((Date.now() - config.counterEpoch) / 5) * 1500;
  let flushes = 0;
  const flush = (phase: 'committed' | 'final') => {
    const line = { apps: appBytes(), rx: rx() };
    process.stdout.write(`${JSON.stringify({ phase: 'pending', ...line })}\n`);
    recorder.flush([{ name: 'eth0', counters: { rxBytes: line.rx, txBytes: 0, rxPackets: 0, txPackets: 0 } }]);
    process.stdout.write(`${JSON.stringify({ phase, ...line })}\n`);
    simulated += 60_000;
    // Roll-ups too may be interrupted: minutes older than 10 minutes become hours, hours older than 2 hours days.
    if (++flushes % 5 === 0) rollUp(db, simulated / 1000, { minuteSeconds: 600, hourSeconds: 7200, daySeconds: null });
  };
  const timer = setInterval(() => flush('committed'), config.flushMs);
  process.once('SIGTERM', () => {
    clearInterval(grow);
    clearInterval(timer);
    flush('final');
    closeHistory(db);
    process.exit(0);
  });
  process.stdout.write('{"phase":"ready"}\n');
}

interface Run {
  lines: FlushLine[];
  code: number | string;
}

/**
 * Starts a child, lets it write for `ms` — or, with `atFlush`, until it announces that
 * flush, so the signal lands while the transaction is under way — sends `signal`, and
 * collects what it printed.
 */
async function runFor(config: ChildConfig, ms: number, signal: 'SIGKILL' | 'SIGTERM', atFlush?: number): Promise<Run> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self], { env: { ...process.env, NETMETER_HISTORY_CHILD: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new LineWatcher(child.stdout, 'recorder child stdout');
  const err = new LineWatcher(child.stderr, 'recorder child stderr');
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, sig) => resolve(code ?? sig ?? 'unknown')));
  try {
    await out.waitFor((l) => l.includes('"ready"'), 'ready line', 15_000);
    if (atFlush === undefined) {
      await sleep(ms);
      child.kill(signal);
    } else {
      let pending = 0;
      child.stdout!.on('data', (chunk: Buffer) => {
        pending += chunk.toString().split('"pending"').length - 1;
        if (pending >= atFlush) child.kill(signal);
      });
      await within(exited, 15_000);
    }
    const code = await within(exited, 10_000);
    assert.ok(code !== undefined, `the child did not exit after ${signal}; stderr:\n${err.all}`);
    assert.equal(err.all, '', 'the child wrote no errors');
    const lines = out.lines.filter((l) => l.startsWith('{') && !l.includes('"ready"')).map((l) => JSON.parse(l) as FlushLine);
    return { lines, code };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

interface Stored {
  apps: number;
  rx: number;
}

function stored(path: string): Stored & { integrity: string } {
  const db = new Database(path);
  try {
    const integrity = (db.pragma('integrity_check', { simple: true }) as string);
    const sum = (table: string, expr: string) => ['minute', 'hour', 'day']
      .map((r) => db.prepare<{ n: number }>(`SELECT COALESCE(SUM(${expr}), 0) AS n FROM ${table}_${r}`).get()!.n)
      .reduce((a, b) => a + b, 0);
    return { integrity, apps: sum('usage', 'sent_bytes + received_bytes'), rx: sum('kernel', 'rx_bytes') };
  } finally {
    db.close();
  }
}

/**
 * What the database may hold after a run: what was committed last, or — when the kill came
 * between the write and the line saying so — what was about to be.
 */
function possibleStates(lines: FlushLine[]): FlushLine[] {
  const lastCommitted = [...lines].reverse().find((l) => l.phase !== 'pending');
  const last = lines[lines.length - 1];
  const states = lastCommitted ? [lastCommitted] : [{ phase: 'committed' as const, apps: 0, rx: Number.NaN }];
  if (last && last.phase === 'pending') states.push(last);
  return states;
}

const childConfig = process.env.NETMETER_HISTORY_CHILD;
if (childConfig) {
  await runChild(JSON.parse(childConfig) as ChildConfig);
} else {
  test('SIGKILL during writes: the database stays intact and at most one flush interval is missing; SIGTERM writes everything', { timeout: 120_000 }, async (t) => {
    const tmp = tempDir('history-crash');
    try {
      const db = join(tmp.dir, 'netmeter.db');
      const counterEpoch = Date.now();
      let appsBefore = 0;
      let firstRx: number | undefined;
      let killedMidFlush = 0;
      for (let round = 0; round < 6; round++) {
        const config: ChildConfig = { db, start: Date.UTC(2026, 0, 1) + round * 10 * 86400_000, counterEpoch, flushMs: 50 };
        // Even rounds: a random moment; odd ones: the moment a flush begins.
        const run = round % 2 === 0
          ? await runFor(config, 400 + Math.floor(Math.random() * 500), 'SIGKILL')
          : await runFor(config, 0, 'SIGKILL', 4 + round);
        assert.equal(run.code, 'SIGKILL');
        assert.ok(run.lines.length >= 4, `round ${round}: the child flushed (${run.lines.length} lines)`);
        firstRx ??= run.lines[0]!.rx; // the first reading is where the kernel counter's history starts
        if (run.lines[run.lines.length - 1]!.phase === 'pending') killedMidFlush++;
        const now = stored(db);
        assert.equal(now.integrity, 'ok', `round ${round}: PRAGMA integrity_check`);
        const states = possibleStates(run.lines);
        const matches = states.some((s) => now.apps === appsBefore + s.apps && now.rx === s.rx - firstRx!);
        assert.ok(matches, `round ${round}: stored ${JSON.stringify(now)} is none of ${JSON.stringify(states.map((s) => ({ apps: appsBefore + s.apps, rx: s.rx - firstRx! })))}`);
        // At most one flush interval missing: what the child had counted when killed is at most
        // one flush (5 growth ticks, with timer slack) beyond what is stored.
        const perTick = Array.from({ length: APPS }, (_, i) => 1100 + 2 * i).reduce((a, b) => a + b, 0);
        const lastLine = run.lines[run.lines.length - 1]!;
        assert.ok(appsBefore + lastLine.apps - now.apps <= perTick * 10, `round ${round}: more than one interval missing`);
        appsBefore = now.apps;
      }
      t.diagnostic(`${killedMidFlush} of 6 kills landed between a flush's start and its commit`);

      // SIGTERM with a long flush interval: much is pending when the signal comes, and all of it is written.
      const run = await runFor({ db, start: Date.UTC(2026, 5, 1), counterEpoch, flushMs: 1000 }, 1600, 'SIGTERM');
      assert.equal(run.code, 0);
      const final = run.lines[run.lines.length - 1]!;
      assert.equal(final.phase, 'final');
      const periodic = run.lines.filter((l) => l.phase === 'committed');
      assert.ok(periodic.length >= 1 && final.apps > periodic[periodic.length - 1]!.apps, 'the signal found unflushed traffic');
      const after = stored(db);
      assert.equal(after.integrity, 'ok');
      assert.equal(after.apps, appsBefore + final.apps, 'everything counted before SIGTERM is stored');
      assert.equal(after.rx, final.rx - firstRx!, 'the kernel counter: continuous across all kills, nothing lost or doubled');
    } finally {
      tmp.remove();
    }
  });
}
