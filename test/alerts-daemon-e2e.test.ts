// End to end, as root, between two network namespaces the test makes: the daemon tests a
// netmeter speedtest-server every few seconds through a 100 Mbit/s tbf link; the test
// lowers the link to 30 Mbit/s, and one complaint arrives at a real SMTP server and one
// message at a webhook, within the confirmation's number of tests; back at 100 Mbit/s,
// one recovery each. The receivers run in the daemon's namespace, in a process of their own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './support/run-cli.js';
import { ProcGroup, liveSkipReason, tempDir, waitExit, type Proc } from './support/live-harness.js';

const skip = liveSkipReason(['ip', 'tc']);
const tag = `nmal${process.pid % 10000}`;
const CLIENT = `${tag}c`;
const SERVER = `${tag}s`;
const RECEIVERS = fileURLToPath(new URL('./alerts/receivers-process.js', import.meta.url));
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const shape = (verb: 'add' | 'change', ns: string, dev: string, rate: string) =>
  execFileSync('tc', ['-n', ns, 'qdisc', verb, 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '50ms'], { stdio: 'pipe' });

interface Arrival {
  mail?: { to: string[]; raw: string };
  webhook?: { headers: Record<string, string>; body: string };
}

function arrivals(receivers: Proc): Arrival[] {
  return receivers.stdout.all.split('\n').filter((l) => l.startsWith('{"mail"') || l.startsWith('{"webhook"')).map((l) => JSON.parse(l) as Arrival);
}

/** Scheduled (not retest) speed test lines the daemon logged so far. */
const scheduledTests = (daemon: Proc) => daemon.stderr.all.split('\n').filter((l) => l.includes('speed test against')).length;

async function until(what: string, done: () => boolean, timeoutMs: number, daemon: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms; daemon:\n${daemon.stderr.all}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('a speed drop opens one incident (email and webhook), recovery sends one each', { skip: skip ?? false, timeout: 240_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('alerts-daemon');
  try {
    ip('netns', 'add', CLIENT);
    ip('netns', 'add', SERVER);
    ip('link', 'add', `${tag}x`, 'netns', CLIENT, 'type', 'veth', 'peer', 'name', `${tag}y`, 'netns', SERVER);
    ip('-n', CLIENT, 'addr', 'add', '198.18.89.1/24', 'dev', `${tag}x`);
    ip('-n', SERVER, 'addr', 'add', '198.18.89.2/24', 'dev', `${tag}y`);
    for (const [ns, dev] of [[CLIENT, `${tag}x`], [SERVER, `${tag}y`]] as const) {
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      shape('add', ns, dev, '100mbit');
    }
    const server = group.spawn('server', 'ip', ['netns', 'exec', SERVER, process.execPath, CLI, 'speedtest-server', '--listen', '198.18.89.2:8080']);
    await server.stdout.waitFor((l) => l.startsWith('listening on'), 'the server is up');
    const receivers = group.spawn('receivers', 'ip', ['netns', 'exec', CLIENT, process.execPath, RECEIVERS, 'smtp-secret']);
    const ready = JSON.parse(await receivers.stdout.waitFor((l) => l.startsWith('{"ready"'), 'the receivers')) as { ready: { webhook: string; smtpPort: number } };

    writeFileSync(join(tmp.dir, 'smtp-password'), 'smtp-secret', { mode: 0o600 });
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      speedtest: { servers: ['http://198.18.89.2:8080/'], intervalMinutes: 0.1, jitterMinutes: 0, maxMBPerTest: 40 },
      alerts: {
        connections: [{ name: 'home', provider: 'Example ISP', downloadMbps: 100, uploadMbps: 100 }],
        servers: ['http://198.18.89.2:8080/'],
        retestDelayMinutes: 0.1,
        detectors: [{ type: 'speed', direction: 'download', below: { planShare: 0.5 }, recoverAbove: { planShare: 0.8 }, confirm: { bad: 2, of: 3, retests: 1, recoverAfter: 2 } }],
        channels: [
          { type: 'email', to: 'support@isp.example', from: 'netmeter@home.example', complaint: true, smtp: { host: '127.0.0.1', port: ready.ready.smtpPort, user: 'me', passwordFile: join(tmp.dir, 'smtp-password') } },
          { type: 'webhook', url: `${ready.ready.webhook}/hook` },
        ],
      },
    }), { mode: 0o600 });
    const daemon = group.spawn('daemon', 'ip', ['netns', 'exec', CLIENT, process.execPath, CLI, 'daemon', '-i', `${tag}x`, '--db', join(tmp.dir, 'netmeter.db'), '--config', config, '--flush-interval', '1s']);

    // Two good tests at 100 Mbit/s: nothing is sent.
    await until('two tests at full speed', () => scheduledTests(daemon) >= 2, 60_000, daemon);
    assert.deepEqual(arrivals(receivers), [], 'no message while the link is as planned');

    // The provider's link drops to 30 Mbit/s.
    shape('change', SERVER, `${tag}y`, '30mbit');
    shape('change', CLIENT, `${tag}x`, '30mbit');
    const before = scheduledTests(daemon);
    await until('the opening messages', () => arrivals(receivers).filter((a) => a.mail || a.webhook).length >= 2, 120_000, daemon);
    const testsToOpen = scheduledTests(daemon) - before;
    assert.ok(testsToOpen <= 3, `opened within 3 scheduled tests (retests not counted): took ${testsToOpen}`);
    const opening = arrivals(receivers);
    const mail = opening.find((a) => a.mail)!.mail!;
    assert.deepEqual(mail.to, ['support@isp.example']);
    // The subject is MIME-encoded (quoted-printable words); the body is the complaint.
    assert.match(mail.raw, /Subject: =\?UTF-8\?Q\?Slow_download_on_connection_=22home=22/);
    assert.match(mail.raw, /Dear Example ISP,/);
    assert.match(mail.raw, /Message-ID: <[0-9a-f]+-open@home\.example>/);
    const hook = JSON.parse(opening.find((a) => a.webhook)!.webhook!.body) as { kind: string; incident: { id: string } };
    assert.equal(hook.kind, 'open');

    // Back to the plan: one recovery each, and nothing more.
    shape('change', SERVER, `${tag}y`, '100mbit');
    shape('change', CLIENT, `${tag}x`, '100mbit');
    await until('the recovery messages', () => arrivals(receivers).length >= 4, 120_000, daemon);
    const after = scheduledTests(daemon);
    await until('two more tests', () => scheduledTests(daemon) >= after + 2, 60_000, daemon);
    const all = arrivals(receivers);
    assert.equal(all.filter((a) => a.mail).length, 2, 'one opening and one recovery email');
    const hooks = all.filter((a) => a.webhook).map((a) => JSON.parse(a.webhook!.body) as { kind: string; incident: { id: string } });
    assert.deepEqual(hooks.map((h) => h.kind), ['open', 'recovery']);
    assert.equal(hooks[1]!.incident.id, hook.incident.id, 'the recovery names the incident it ends');
    assert.ok(all.every((a) => !JSON.stringify(a).includes('smtp-secret')), 'the password is in no message');

    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 60_000), 0, daemon.stderr.all);
    assert.ok(!daemon.stderr.all.includes('smtp-secret'), 'nor in the log');
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
