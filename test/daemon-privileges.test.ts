// `netmeter daemon` and its privileges, for real (as root, through setpriv): without the
// capture capabilities it says so in one line and creates nothing — no database, no
// directory; capabilities decide, not uid 0 (root without CAP_NET_RAW fails, an ordinary
// user given CAP_NET_RAW and CAP_NET_ADMIN records); and with exactly the capability set of
// docs/systemd/netmeter.service the kernel's socket events load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO_ROOT, hasCommand } from './support/run-cli.js';
import { ProcGroup, tempDir, waitExit } from './support/live-harness.js';
import { checkCapturePrivileges, PrivilegeError } from '../src/capture/privilege.js';
import { loadNativeAddon } from '../src/native-addon.js';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root (runs the daemon as other users and with fewer capabilities)' : !hasCommand('setpriv') ? 'needs setpriv (util-linux)' : false;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** The capabilities the shipped unit leaves the daemon, as setpriv spells them (net_raw, bpf). */
function unitCapabilities(): string[] {
  const unit = readFileSync(join(REPO_ROOT, 'docs', 'systemd', 'netmeter.service'), 'utf8');
  const line = /^CapabilityBoundingSet=(.*)$/m.exec(unit);
  assert.ok(line, 'the unit has a CapabilityBoundingSet');
  return line[1]!.trim().split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
}

/** Runs the daemon under setpriv with these arguments; its exit code and stderr. */
function daemonUnder(setprivArgs: string[], daemonArgs: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stderr: string } {
  const result = spawnSync('setpriv', [...setprivArgs, process.execPath, CLI, 'daemon', ...daemonArgs], {
    cwd: '/',
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', ...env },
  });
  return { code: result.status, stderr: result.stderr };
}

function assertPrivilegeLine(result: { code: number | null; stderr: string }): void {
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^netmeter: capturing on lo needs privileges: run with sudo, or grant them once with: sudo setcap cap_net_raw,cap_net_admin=eip .*\n$/);
}

test('checkCapturePrivileges reads the effective capabilities, not the uid', () => {
  const tmp = tempDir('daemon-privileges');
  try {
    const status = (capEff: string) => {
      const path = join(tmp.dir, capEff);
      writeFileSync(path, `Name:\tnode\nUid:\t0\t0\t0\t0\nCapEff:\t${capEff}\n`);
      return path;
    };
    // Bits 12 (NET_ADMIN) and 13 (NET_RAW).
    assert.doesNotThrow(() => checkCapturePrivileges(['eth0'], status('0000000000003000')));
    assert.throws(() => checkCapturePrivileges(['eth0'], status('0000000000002000')), PrivilegeError);
    assert.throws(() => checkCapturePrivileges([], status('0000000000000000')), /capturing on the network interfaces needs privileges/);
  } finally {
    tmp.remove();
  }
});

test('daemon without the capture capabilities: one line, and no database or directory created', { skip, timeout: 60_000 }, () => {
  const tmp = tempDir('daemon-privileges');
  try {
    chmodSync(tmp.dir, 0o777);
    // An ordinary user, default database path: $XDG_STATE_HOME/netmeter/netmeter.db.
    const state = join(tmp.dir, 'state');
    assertPrivilegeLine(daemonUnder(NOBODY, ['-i', 'lo'], { XDG_STATE_HOME: state }));
    assert.equal(existsSync(state), false, 'the state directory was not created');
    // An ordinary user, --db in a directory it may write.
    const db = join(tmp.dir, 'netmeter.db');
    assertPrivilegeLine(daemonUnder(NOBODY, ['-i', 'lo', '--db', db]));
    // Root without CAP_NET_RAW (a container started with --cap-drop=NET_RAW): uid 0 is not enough.
    assertPrivilegeLine(daemonUnder(['--inh-caps=-all', '--bounding-set=-net_raw'], ['-i', 'lo', '--db', db]));
    assert.deepEqual(readdirSync(tmp.dir), [], 'nothing was created');
  } finally {
    tmp.remove();
  }
});

/**
 * Starts the daemon under setpriv, waits for its "recording" line, stops it with SIGTERM;
 * that line. The database goes in a directory anyone may write.
 */
async function recordingLine(setprivArgs: string[]): Promise<string> {
  const group = new ProcGroup();
  const tmp = tempDir('daemon-privileges');
  try {
    chmodSync(tmp.dir, 0o777);
    const db = join(tmp.dir, 'netmeter.db');
    const daemon = group.spawn('daemon', 'setpriv', [...setprivArgs, process.execPath, CLI, 'daemon', '-i', 'lo', '--filter', 'port 9', '--db', db, '--flush-interval', '1s']);
    const line = await daemon.stderr.waitFor((l) => l.includes('recording lo into'), 'the "recording" line', 20_000);
    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 15_000), 0, daemon.stderr.all);
    assert.ok(existsSync(db));
    return line;
  } finally {
    await group.cleanup();
    tmp.remove();
  }
}

test('daemon as an ordinary user given CAP_NET_RAW and CAP_NET_ADMIN (as setcap would): it records', { skip, timeout: 60_000 }, async () => {
  const caps = '+net_raw,+net_admin';
  const line = await recordingLine([...NOBODY, `--inh-caps=${caps}`, `--ambient-caps=${caps}`]);
  assert.match(line, /recording lo into .*netmeter\.db every 1s/);
});

/** Why the kernel events cannot load on this machine even as full root, or undefined. */
function kernelEventsSkipReason(): string | undefined {
  const loaded = loadNativeAddon();
  if ('error' in loaded) return `the native addon did not load: ${loaded.error.message}`;
  if (/^NSpid:\s*\d+\s+\d+/m.test(readFileSync('/proc/self/status', 'utf8'))) return 'runs in a PID namespace of its own: kernel events are off there';
  return undefined;
}

test("daemon with exactly the systemd unit's capabilities: the kernel's socket events load", { skip: skip || kernelEventsSkipReason() || false, timeout: 60_000 }, async (t) => {
  const caps = unitCapabilities();
  for (const needed of ['net_raw', 'net_admin', 'sys_ptrace', 'dac_read_search', 'bpf', 'perfmon']) assert.ok(caps.includes(needed), `the unit grants ${needed}`);
  // With full root first: if the events cannot load here at all (a container without BPF),
  // the unit is not to blame, and there is nothing to compare with.
  const full = await recordingLine([]);
  if (!full.includes('kernel events (eBPF')) {
    t.skip(`the kernel events do not load here even as full root: ${full}`);
    return;
  }
  // Root limited to the unit's bounding set, as systemd starts it (nothing inheritable).
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  const line = await recordingLine(['--inh-caps=-all', `--bounding-set=${set}`]);
  // As much as full root got: the socket hooks where they load, else the tracepoints.
  if (full.includes('socket hooks, connects')) assert.match(line, /owners from kernel events \(eBPF: socket hooks, connects, process ends\) and \/proc at start$/, line);
  else assert.match(line, /owners from \/proc every second and kernel events \(eBPF: connects, listens, process ends; /, line);
  // And the same set without CAP_BPF and CAP_PERFMON (the unit before this fix) does not load them.
  const without = ['-all', ...caps.filter((c) => c !== 'bpf' && c !== 'perfmon').map((c) => `+${c}`)].join(',');
  const old = await recordingLine(['--inh-caps=-all', `--bounding-set=${without}`]);
  assert.match(old, /owners from \/proc only \(kernel events unavailable: /, old);
});
