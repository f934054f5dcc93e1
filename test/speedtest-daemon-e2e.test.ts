// End to end, as root, between two network namespaces the test makes: the daemon runs
// the speed tests its config schedules against a netmeter speedtest-server in the other
// namespace and stores each result; a result taken while another program of its
// namespace downloads is flagged contended, one taken on a quiet link is not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { SpeedtestResult } from '../src/speedtest/result.js';
import { CLI } from './support/run-cli.js';
import { ProcGroup, liveSkipReason, sleep, tempDir, waitExit } from './support/live-harness.js';

const skip = liveSkipReason(['ip', 'tc']);
const tag = `nmst${process.pid % 10000}`;
const CLIENT = `${tag}c`;
const SERVER = `${tag}s`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

function storedResults(db: string): SpeedtestResult[] {
  const reader = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const rows = reader.prepare('SELECT document FROM speed_test ORDER BY id').all() as Array<{ document: string }>;
    return rows.map((r) => JSON.parse(r.document) as SpeedtestResult);
  } finally {
    reader.close();
  }
}

test('the daemon runs scheduled speed tests, stores them, and flags the one beside another download as contended', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('speed-daemon');
  try {
    ip('netns', 'add', CLIENT);
    ip('netns', 'add', SERVER);
    ip('link', 'add', `${tag}x`, 'netns', CLIENT, 'type', 'veth', 'peer', 'name', `${tag}y`, 'netns', SERVER);
    ip('-n', CLIENT, 'addr', 'add', '198.18.88.1/24', 'dev', `${tag}x`);
    ip('-n', SERVER, 'addr', 'add', '198.18.88.2/24', 'dev', `${tag}y`);
    for (const [ns, dev] of [[CLIENT, `${tag}x`], [SERVER, `${tag}y`]] as const) {
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      // A 50 Mbit/s link each way: a test's 60 MB cap then outlasts its warm-up.
      execFileSync('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', '50mbit', 'burst', '64kb', 'latency', '50ms'], { stdio: 'pipe' });
    }
    const server = group.spawn('server', 'ip', ['netns', 'exec', SERVER, process.execPath, CLI, 'speedtest-server', '--listen', '198.18.88.2:8080']);
    await server.stdout.waitFor((l) => l.startsWith('listening on'), 'the server is up');

    // A download running from the start: the first test is taken beside it.
    const competitor = group.spawn('competitor', 'ip', ['netns', 'exec', CLIENT, process.execPath, '-e', `
      const http = require('http');
      const next = () => http.get('http://198.18.88.2:8080/__down?bytes=50000000', (res) => { res.resume(); res.on('end', next); }).on('error', () => setTimeout(next, 100));
      next();`]);

    const db = join(tmp.dir, 'netmeter.db');
    const config = join(tmp.dir, 'config.json');
    // Every 6 s (the first within the first interval), at most 60 MB a test.
    writeFileSync(config, JSON.stringify({ speedtest: { servers: ['http://198.18.88.2:8080/'], intervalMinutes: 0.1, jitterMinutes: 0, maxMBPerTest: 60 } }));
    const daemon = group.spawn('daemon', 'ip', ['netns', 'exec', CLIENT, process.execPath, CLI, 'daemon', '-i', `${tag}x`, '--db', db, '--config', config, '--flush-interval', '1s']);
    await daemon.stderr.waitFor((l) => l.includes('speed test against'), 'the first test', 60_000);
    process.kill(competitor.pid, 'SIGKILL');
    await competitor.exited;
    await sleep(500);
    const seen = daemon.stderr.all.split('\n').filter((l) => l.includes('speed test against')).length;
    await daemon.stderr.waitFor((l) => l.includes('speed test against') && daemon.stderr.all.split('\n').filter((x) => x.includes('speed test against')).length > seen, 'a test on a quiet link', 60_000);
    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 60_000), 0, daemon.stderr.all);

    const results = storedResults(db);
    assert.ok(results.length >= 2, `two tests stored: ${daemon.stderr.all}`);
    const [first] = results;
    const last = results.at(-1)!;
    assert.equal(first!.contention?.contended, true, `the test beside the download: ${JSON.stringify(first!.contention)}`);
    assert.equal(last.contention?.contended, false, `the test on a quiet link: ${JSON.stringify(last.contention)}`);
    assert.ok(last.download?.mbps !== null && (last.download?.mbps ?? 0) > 0, JSON.stringify(last.download));
    assert.equal(last.server.url, 'http://198.18.88.2:8080/');
    assert.ok(Math.abs(last.download!.mbps! - 50) < 10, `about the 50 Mbit/s of the link: ${JSON.stringify(last.download)}`);
    assert.ok(last.bytesUsed.total <= 66e6, `the byte cap held: ${last.bytesUsed.total}`);
  } finally {
    await group.cleanup();
    tmp.remove();
    for (const ns of [CLIENT, SERVER]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not made
      }
    }
  }
});
