// End to end, as root, in a network namespace of the test's own: a daemon started before
// any interface is up (a laptop's daemon at boot, before Wi-Fi) waits; an interface that
// then comes up with an address is captured from then on and its traffic recorded to the
// byte; when it goes away the daemon says so and goes on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { HistoryReport } from '../src/history/report-document.js';
import { CLI, runCli } from './support/run-cli.js';
import { ProcGroup, liveSkipReason, tempDir, waitExit } from './support/live-harness.js';

const skip = liveSkipReason(['ip']);
const tag = `nmup${process.pid % 10000}`;
const NS = `${tag}a`;
const PEER = `${tag}b`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

test('the default interface set follows an interface that comes up after start and goes away', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('ifup');
  try {
    ip('netns', 'add', NS);
    ip('netns', 'add', PEER);
    const db = join(tmp.dir, 'netmeter.db');
    const daemon = group.spawn('daemon', 'ip', ['netns', 'exec', NS, process.execPath, CLI, 'daemon', '--db', db, '--flush-interval', '1s']);
    await daemon.stderr.waitFor((l) => l.includes('no interface is up with an address yet'), 'the waiting line');

    // "Wi-Fi" comes up: a veth with an address, its peer in another namespace.
    ip('link', 'add', `${tag}x`, 'netns', NS, 'type', 'veth', 'peer', 'name', `${tag}y`, 'netns', PEER);
    ip('-n', NS, 'addr', 'add', '198.18.77.1/24', 'dev', `${tag}x`);
    ip('-n', PEER, 'addr', 'add', '198.18.77.2/24', 'dev', `${tag}y`);
    ip('-n', PEER, 'link', 'set', `${tag}y`, 'up');
    ip('-n', NS, 'link', 'set', `${tag}x`, 'up');
    await daemon.stderr.waitFor((l) => l.includes(`interface ${tag}x came up: capturing it`), 'the came-up line');

    // 20 datagrams of 1,000 bytes from a process of the namespace: 1,042 bytes each on the wire.
    const sender = group.spawn('sender', 'ip', ['netns', 'exec', NS, process.execPath, '-e', `
      const s = require('dgram').createSocket('udp4');
      let n = 0;
      const next = () => (n++ < 20 ? s.send(Buffer.alloc(1000), 9, '198.18.77.2', () => setTimeout(next, 20)) : s.close());
      s.bind(0, '198.18.77.1', next);`]);
    assert.equal(await waitExit(sender, 15_000), 0, sender.stderr.all);

    // The interface goes away: said in one line, and the daemon goes on.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    ip('-n', NS, 'link', 'del', `${tag}x`);
    await daemon.stderr.waitFor((l) => l.includes(tag) && /went away|was removed|went down/.test(l), 'the went-away line');
    assert.equal(daemon.exitCode(), undefined, `the daemon goes on; stderr:\n${daemon.stderr.all}`);
    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 15_000), 0, daemon.stderr.all);

    const result = await runCli(['report', '--db', db, '--by', 'interface', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const row = (JSON.parse(result.stdout) as HistoryReport).rows.find((r) => r.interface === `${tag}x`);
    assert.ok(row, `the interface is in the history: ${result.stdout}`);
    assert.equal(row.sentBytes, 20 * 1042, 'every datagram sent, to the byte');
  } finally {
    await group.cleanup();
    tmp.remove();
    for (const ns of [NS, PEER]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not made
      }
    }
  }
});
