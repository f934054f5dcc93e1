// Host names end to end, all inside two network namespaces this test creates: in one,
// dnsmasq (answering only from its own records) and two TCP servers; in the other, netmeter
// (`--jsonl`) and a client that resolves www.shop.test through dnsmasq (a CNAME chain to
// the server's address, whose own PTR names the chain's end) and connects, and connects to
// a second server by address alone (dnsmasq answers its PTR). netmeter's report must name
// the first by the name the client asked for, the second by its PTR; with --no-resolve no
// connection has a name and no reverse lookup reaches dnsmasq.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, hasCommand } from './support/run-cli.js';
import type { UsageReport } from '../src/present/usage-report.js';

const execFileP = promisify(execFile);
const run = (command: string, args: string[]) => execFileP(command, args);

const skip =
  process.getuid?.() !== 0 ? 'needs root (network namespaces, capture)' : !hasCommand('dnsmasq') ? 'needs dnsmasq (Debian: dnsmasq-base)' : !hasCommand('ip') ? 'needs ip (iproute2)' : false;

const tag = process.pid % 10000;
const NETMETER_NS = `names-e2e-m${tag}`;
const SERVER_NS = `names-e2e-d${tag}`;
const DEV_M = `nmn${tag}m`;
const DEV_D = `nmn${tag}d`;

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

function spawnIn(namespace: string, command: string, args: string[]): Running {
  const child = spawn('ip', ['netns', 'exec', namespace, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

/** Resolves with the first --jsonl report `accept` takes; rejects with netmeter's output when it ends first or after `ms`. */
function reportWhere(netmeter: Running, accept: (r: UsageReport) => boolean, ms: number): Promise<UsageReport> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const check = () => {
      const lines = netmeter.stdout().split('\n').filter((l) => l.startsWith('{'));
      for (; seen < lines.length; seen++) {
        const report = JSON.parse(lines[seen]!) as UsageReport;
        if (accept(report)) return done(() => resolve(report));
      }
    };
    const fail = (why: string) => done(() => reject(new Error(`${why}\nlast report: ${netmeter.stdout().trim().split('\n').at(-1)}\nstderr: ${netmeter.stderr()}`)));
    const timer = setTimeout(() => fail(`no such report within ${ms} ms`), ms);
    const onExit = () => fail('netmeter ended');
    const done = (settle: () => void) => {
      clearTimeout(timer);
      netmeter.child.stdout!.off('data', check);
      netmeter.child.off('exit', onExit);
      settle();
    };
    netmeter.child.stdout!.on('data', check);
    netmeter.child.once('exit', onExit);
    check();
  });
}

const CLIENT = `
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
const { address } = await lookup('www.shop.test', { family: 4 });
console.log('resolved', address);
for (const host of [address, '198.18.6.30']) {
  const socket = connect(8080, host);
  socket.on('error', (e) => { console.error(e.message); process.exit(1); });
  // A byte every 100 ms keeps the connections in every report until the test ends the client.
  setInterval(() => socket.write('x'), 100);
}
`;

const SERVER = `
import { createServer } from 'node:net';
for (const host of ['198.18.6.10', '198.18.6.30']) createServer((s) => s.on('data', () => {})).listen(8080, host, () => console.log('listening', host));
`;

test('a connection is named by the name its client asked for (native and cap engines), another by dnsmasq\'s PTR; --no-resolve names none', { skip, timeout: 90_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'netmeter-names-'));
  const running: Running[] = [];
  const netnsEtc = `/etc/netns/${NETMETER_NS}`;
  try {
    await run('ip', ['netns', 'add', NETMETER_NS]);
    await run('ip', ['netns', 'add', SERVER_NS]);
    await run('ip', ['link', 'add', DEV_M, 'netns', NETMETER_NS, 'type', 'veth', 'peer', 'name', DEV_D, 'netns', SERVER_NS]);
    await run('ip', ['-n', NETMETER_NS, 'addr', 'add', '198.18.6.1/24', 'dev', DEV_M]);
    for (const address of ['198.18.6.2/24', '198.18.6.10/24', '198.18.6.30/24']) await run('ip', ['-n', SERVER_NS, 'addr', 'add', address, 'dev', DEV_D]);
    for (const [ns, dev] of [[NETMETER_NS, DEV_M], [SERVER_NS, DEV_D]] as const) {
      await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // `ip netns exec` mounts this over /etc/resolv.conf: the client and netmeter ask dnsmasq only.
    mkdirSync(netnsEtc, { recursive: true });
    writeFileSync(join(netnsEtc, 'resolv.conf'), 'nameserver 198.18.6.2\n');
    writeFileSync(
      join(work, 'dnsmasq.conf'),
      [
        'no-resolv', 'no-hosts', 'bind-interfaces', 'listen-address=198.18.6.2', 'local-ttl=60', `log-facility=${join(work, 'dnsmasq.log')}`, 'log-queries',
        'host-record=edge7.cdn.test,198.18.6.10', 'cname=shop.cdn.test,edge7.cdn.test', 'cname=www.shop.test,shop.cdn.test',
        'ptr-record=30.6.18.198.in-addr.arpa,ptr-host.test',
      ].join('\n') + '\n',
    );
    await run('ip', ['netns', 'exec', SERVER_NS, 'dnsmasq', `--conf-file=${join(work, 'dnsmasq.conf')}`, `--pid-file=${join(work, 'dnsmasq.pid')}`, '--user=root']);
    const server = spawnIn(SERVER_NS, process.execPath, ['--input-type=module', '-e', SERVER]);
    running.push(server);

    const netmeter = spawnIn(NETMETER_NS, process.execPath, [CLI, '-i', DEV_M, '--jsonl', '--interval', '200ms']);
    running.push(netmeter);
    // The first report: the capture and the DNS watch are open.
    await reportWhere(netmeter, () => true, 15_000);
    const client = spawnIn(NETMETER_NS, process.execPath, ['--input-type=module', '-e', CLIENT]);
    running.push(client);

    const named = await reportWhere(
      netmeter,
      // A tick may see the connection before the DNS watch read the answer, and a PTR name it
      // for a moment: the answer's name replaces that, so wait for it.
      (r) => r.connections.some((c) => c.remoteAddress === '198.18.6.10' && c.remoteName === 'www.shop.test') && r.connections.some((c) => c.remoteAddress === '198.18.6.30' && c.remoteName),
      20_000,
    );
    const nameOf = (address: string) => named.connections.find((c) => c.remoteAddress === address)?.remoteName;
    assert.equal(nameOf('198.18.6.10'), 'www.shop.test', 'the name the client asked for, not the chain\'s end or its PTR');
    assert.equal(nameOf('198.18.6.30'), 'ptr-host.test', 'a reverse lookup through the namespace\'s resolver');
    assert.match(client.stdout(), /resolved 198\.18\.6\.10/);
    netmeter.child.kill('SIGINT');

    // The cap engine (the reference, in a child process) watches DNS answers the same way:
    // the client's name is asked for again once it runs.
    const capNetmeter = spawnIn(NETMETER_NS, process.execPath, [CLI, '-i', DEV_M, '--jsonl', '--interval', '200ms', '--engine', 'cap']);
    running.push(capNetmeter);
    await reportWhere(capNetmeter, () => true, 15_000);
    await run('ip', ['netns', 'exec', NETMETER_NS, process.execPath, '-e', "require('node:dns').lookup('www.shop.test', (e) => process.exit(e ? 1 : 0))"]);
    // A reverse lookup may have named it first (its PTR): the DNS answer's name replaces that.
    await reportWhere(capNetmeter, (r) => r.connections.some((c) => c.remoteAddress === '198.18.6.10' && c.remoteName === 'www.shop.test'), 20_000);
    capNetmeter.child.kill('SIGINT');

    // --no-resolve: no names in the JSON, no PTR question reaches dnsmasq.
    const ptrQuestionsBefore = (readFileSync(join(work, 'dnsmasq.log'), 'utf8').match(/query\[PTR\]/g) ?? []).length;
    const quiet = spawnIn(NETMETER_NS, process.execPath, [CLI, '-i', DEV_M, '--jsonl', '--interval', '200ms', '--no-resolve']);
    running.push(quiet);
    const report = await reportWhere(quiet, (r) => r.connections.filter((c) => c.remotePort === 8080).length === 2, 15_000);
    await reportWhere(quiet, () => true, 5_000); // one more interval, for lookups that would have started
    assert.ok(report.connections.every((c) => !('remoteName' in c)), JSON.stringify(report.connections));
    assert.equal((readFileSync(join(work, 'dnsmasq.log'), 'utf8').match(/query\[PTR\]/g) ?? []).length, ptrQuestionsBefore);
  } finally {
    for (const r of running) r.child.kill('SIGKILL');
    try {
      process.kill(Number(readFileSync(join(work, 'dnsmasq.pid'), 'utf8').trim()));
    } catch {
      // not started
    }
    await run('ip', ['netns', 'del', NETMETER_NS]).catch(() => undefined);
    await run('ip', ['netns', 'del', SERVER_NS]).catch(() => undefined);
    rmSync(netnsEtc, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});
