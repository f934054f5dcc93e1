// What the README tells a new user to type, run as written:
// - its first two commands (set up + live view, set up + tests) on a root shell without
//   sudo, as a fresh Debian container is, and as an ordinary user with sudo — with apt-get
//   and npm replaced by stand-ins that log their arguments (the real ones would install
//   packages and run the whole suite inside this test);
// - its way of running netmeter before install, whose output must be netmeter's alone
//   (npm's "> netmeter@0.1.0 start" banner made --json output unparseable);
// - its way of installing: a packed tarball installed with npm into a prefix of its own,
//   which holds only what the package needs and runs without the clone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT, hasCommand } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const isRoot = process.getuid?.() === 0;

/** The README's first shell block: its commands, comments left out. */
function firstCommands(): string[] {
  const block = /```sh\n([\s\S]*?)```/.exec(README)![1]!;
  return block.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

/**
 * A bin directory of stand-ins: apt-get and npm log their arguments (prefixed by "sudo" when
 * run through the sudo stand-in); sudo is either one that runs its command as root would be
 * asked to, or one that is "not found", as on a fresh Debian.
 */
function standIns(dir: string, log: string, sudo: 'present' | 'missing'): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const logger = (name: string) => `#!/bin/sh\necho "\${VIA_SUDO:+sudo }${name} $*" >> ${log}\n`;
  writeFileSync(join(bin, 'apt-get'), logger('apt-get'));
  writeFileSync(join(bin, 'npm'), logger('npm'));
  writeFileSync(
    join(bin, 'sudo'),
    sudo === 'present' ? '#!/bin/sh\nVIA_SUDO=1 exec "$@"\n' : '#!/bin/sh\necho "sudo: command not found" >&2\nexit 127\n',
  );
  for (const name of ['apt-get', 'npm', 'sudo']) chmodSync(join(bin, name), 0o755);
  return bin;
}

function runLine(line: string, bin: string, uid?: number): { code: number | null; stderr: string } {
  const result = spawnSync('sh', ['-c', line], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: '/nonexistent' },
    ...(uid !== undefined ? { uid, gid: uid } : {}),
  });
  return { code: result.status, stderr: result.stderr };
}

const BUILD = 'libpcap-dev libbpf-dev build-essential python3';
const TOOLS = 'tcpdump tshark iproute2 tmux nethogs dnsmasq-base dnsutils prometheus nginx-light openssl iptables clang llvm';

test("the README's first two commands work on a root shell without sudo", { skip: isRoot ? false : 'needs root (a root shell is the case)' }, () => {
  const [live, tests] = firstCommands();
  assert.ok(live && tests, 'two commands');
  const expected = [
    ['apt-get update', `apt-get install -y ${BUILD}`, 'npm ci', 'npm start --silent --'],
    ['apt-get update', `apt-get install -y ${BUILD} ${TOOLS}`, 'npm ci', 'npm test'],
  ];
  for (const [i, line] of [live, tests].entries()) {
    const tmp = tempDir('readme');
    try {
      const log = join(tmp.dir, 'log');
      const result = runLine(line, standIns(tmp.dir, log, 'missing'));
      assert.equal(result.code, 0, `${line}: ${result.stderr}`);
      assert.deepEqual(readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => l.trimEnd()), expected[i], line);
    } finally {
      tmp.remove();
    }
  }
});

test("the README's first commands as an ordinary user: apt-get and netmeter through sudo, npm ci not", { skip: isRoot ? false : 'needs root to run as nobody' }, () => {
  const tmp = tempDir('readme');
  try {
    chmodSync(tmp.dir, 0o777);
    const log = join(tmp.dir, 'log');
    writeFileSync(log, '');
    chmodSync(log, 0o666);
    const result = runLine(`${firstCommands()[0]} -i lo`, standIns(tmp.dir, log, 'present'), 65534);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readFileSync(log, 'utf8').trimEnd().split('\n'), [
      'sudo apt-get update',
      `sudo apt-get install -y ${BUILD}`,
      'npm ci',
      'sudo npm start --silent -- -i lo',
    ]);
  } finally {
    tmp.remove();
  }
});

test("the README's way to run netmeter before install prints netmeter's output only", { timeout: 60_000 }, () => {
  const form = /`(npm start --silent --)`/.exec(README)?.[1];
  assert.ok(form, 'the README says how to run netmeter before install: `npm start --silent --`');
  const result = spawnSync('sh', ['-c', `${form} replay fixtures/pcap/loopback-mixed.pcapng --json`], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { version: number };
  assert.equal(report.version, 1);
  const version = spawnSync('sh', ['-c', `${form} --version`], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.match(version.stdout, /^netmeter \d+\.\d+\.\d+\n$/);
});

test('a packed tarball installs into a prefix of its own and runs there, without the clone', { timeout: 20 * 60_000, skip: hasCommand('npm') ? false : 'needs npm' }, () => {
  assert.match(README, /npm install -g "\$\(npm pack --silent\)"/, 'the README installs from a packed tarball');
  const tmp = tempDir('readme-pack');
  try {
    // dist/ is built (npm test builds first): pack it as is, without running `prepare` again.
    const pack = spawnSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', tmp.dir], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(pack.status, 0, pack.stderr);
    const tarball = join(tmp.dir, pack.stdout.trim());
    const files = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const needed of ['package/package.json', 'package/README.md', 'package/dist/src/cli/main.js', 'package/native/binding.gyp', 'package/native/src/live_capture.c', 'package/docs/netmeter.1', 'package/docs/systemd/netmeter.service']) {
      assert.ok(files.includes(needed), `${needed} is packed`);
    }
    const strays = files.filter((f) => /^package\/(test|fixtures|dist\/test|src)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts'));
    assert.deepEqual(strays, [], 'no tests, fixtures, TypeScript sources or source maps');

    const prefix = join(tmp.dir, 'prefix');
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: tmp.dir, encoding: 'utf8' });
    assert.equal(install.status, 0, install.stderr);
    const installed = realpathSync(join(prefix, 'lib', 'node_modules', 'netmeter'));
    assert.ok(!installed.startsWith(realpathSync(REPO_ROOT)), `a copy, not a link to the clone: ${installed}`);
    assert.ok(existsSync(join(installed, 'native', 'build', 'Release', 'netmeter_native.node')), 'the native addon was built on install');
    assert.ok(readdirSync(join(prefix, 'share', 'man', 'man1')).includes('netmeter.1'), 'the man page is installed');

    const netmeter = join(prefix, 'bin', 'netmeter');
    const run = (args: string[]) => spawnSync(netmeter, args, { cwd: '/', encoding: 'utf8' });
    const help = run(['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: netmeter /);
    assert.match(run(['--version']).stdout, /^netmeter \d+\.\d+\.\d+\n$/);
    const replay = run(['replay', join(REPO_ROOT, 'fixtures', 'pcap', 'loopback-mixed.pcapng'), '--json']);
    assert.equal(replay.status, 0, replay.stderr);
    assert.equal((JSON.parse(replay.stdout) as { version: number }).version, 1);
    // better-sqlite3 was built and loads: a report on a history that does not exist says so in one line.
    const report = run(['report', '--db', join(tmp.dir, 'none.db')]);
    assert.equal(report.status, 1);
    assert.match(report.stderr, /^netmeter: .*none\.db.*\n$/);
  } finally {
    tmp.remove();
  }
});
