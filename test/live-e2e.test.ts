// The real live screen, in a terminal: netmeter runs in a detached tmux session (its own
// tmux server, so nothing else's sessions are touched) while paced workloads move data on
// 127.0.0.1, keys go in with send-keys and the screen comes back with capture-pane.
// - the workload's row, named node, with a non-zero rate; 'b' switches rates to bits; 'q'
//   quits with exit code 0, the cursor visible again and the terminal back in cooked mode;
// - short-lived clients that exited fold into one row in rate mode and are each listed in
//   cumulative mode; Home/End/PgUp/PgDn, Esc back to the top, and the selection staying on
//   its process as the sort changes;
// - captured on an interface other than lo while lo carries traffic, the header and '?' say
//   that lo is not shown and how to show it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI } from './support/run-cli.js';
import { ProcGroup, liveSkipReason, randomPorts, signalGo, sleep, startWorkload, tempDir, waitDone, type Workload } from './support/live-harness.js';

const skip = liveSkipReason(['tmux']);
const execFileP = promisify(execFile);

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** One tmux server of our own (-L), so that only its sessions are ever touched. */
class Tmux {
  readonly socket = `netmeter-test-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  readonly session = 'netmeter';

  async run(...args: string[]): Promise<string> {
    const { stdout } = await execFileP('tmux', ['-L', this.socket, '-f', '/dev/null', ...args]);
    return stdout;
  }

  async start(command: string, size = { columns: 120, rows: 30 }): Promise<void> {
    // remain-on-exit keeps the pane (and its last screen) after the command ends.
    await this.run('new-session', '-d', '-s', this.session, '-x', String(size.columns), '-y', String(size.rows), command, ';',
      'set-option', '-t', this.session, 'remain-on-exit', 'on');
  }

  /** Presses keys by tmux's names (End, PPage, Escape, BSpace, ...), one send-keys each. */
  async keys(...names: string[]): Promise<void> {
    for (const name of names) await this.run('send-keys', '-t', this.session, name);
  }

  screen(): Promise<string> {
    return this.run('capture-pane', '-p', '-t', this.session);
  }

  async paneState(): Promise<{ dead: boolean; cursorVisible: boolean }> {
    const out = (await this.run('display-message', '-p', '-t', this.session, '#{pane_dead} #{cursor_flag}')).trim();
    const [dead, cursor] = out.split(' ');
    return { dead: dead === '1', cursorVisible: cursor === '1' };
  }

  /** Stops our tmux server and removes its socket file (kill-server leaves it behind). */
  async kill(): Promise<void> {
    const socketPath = (await this.run('display-message', '-p', '#{socket_path}').catch(() => '')).trim();
    await this.run('kill-server').catch(() => undefined);
    if (socketPath.endsWith(`/${this.socket}`)) rmSync(socketPath, { force: true });
  }
}

const RATE = /(\d+(?:\.\d+)?) ((?:B|KiB|MiB|GiB|TiB|PiB)\/s|[kMGT]?bit\/s)/g;

/** The upload and download rate cells of the row of process pid, if it is on screen. */
function rowRates(screen: string, pid: number): { line: string; rates: Array<{ value: number; unit: string }> } | undefined {
  const line = screen.split('\n').find((l) => new RegExp(`^\\s*${pid}\\s`).test(l));
  if (!line) return undefined;
  const rates = [...line.matchAll(RATE)].map((m) => ({ value: Number(m[1]), unit: m[2]! }));
  return { line, rates };
}

async function pollScreen(tmux: Tmux, what: string, ok: (screen: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < deadline) {
    screen = await tmux.screen();
    if (ok(screen)) return screen;
    await sleep(250);
  }
  throw new Error(`the screen did not show ${what} within ${timeoutMs} ms; last screen:\n${screen}`);
}

test('live UI in tmux: shows the busy process with a rate, b switches to bit/s, q quits cleanly', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('ui');
  const tmux = new Tmux();
  try {
    const [port] = randomPorts(1, 12000, 20000) as [number];
    const exitFile = path.join(tmp.dir, 'exit');
    // After netmeter, the shell records its exit code and reads a line: that read ends on
    // Enter only if netmeter left the terminal in its normal (cooked) mode.
    const command = `${shellQuote(process.execPath)} ${shellQuote(CLI)} -i lo --filter ${shellQuote(`port ${port}`)}; ` +
      `echo EXIT=$? > ${shellQuote(exitFile)}; read line`;
    await tmux.start(command);

    // Data for about ten seconds: 1000-byte datagrams every 25 ms, each echoed back.
    const server: Workload = await startWorkload(group, 'udp-server', 'udp-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--count', '400', '--now', '--timeout', '40']);
    await startWorkload(group, 'udp-client', 'udp-client',
      ['--connect', '127.0.0.1', '--port', String(port), '--connected', '--count', '400', '--size', '1000', '--pace-ms', '25', '--now', '--timeout', '40']);

    const busy = (screen: string) => {
      const row = rowRates(screen, server.pid);
      return !!row && /\bnode\b/.test(row.line) && row.rates.length >= 2 && row.rates.slice(0, 2).some((r) => r.value > 0);
    };
    const screen = await pollScreen(tmux, `process ${server.pid} (node) with a non-zero upload or download rate`, busy);
    const row = rowRates(screen, server.pid)!;
    assert.match(row.line, /\bnode\b/);
    assert.ok(row.rates.slice(0, 2).every((r) => /B\/s$/.test(r.unit)), `rates in bytes per second first: ${row.line}`);

    await tmux.run('send-keys', '-t', tmux.session, 'b');
    const bits = await pollScreen(tmux, 'rates in bit/s after pressing b', (s) => {
      const r = rowRates(s, server.pid);
      return !!r && r.rates.length >= 2 && r.rates.slice(0, 2).every((x) => x.unit.endsWith('bit/s'));
    });
    assert.match(bits, /bit\/s/);

    assert.equal((await tmux.paneState()).dead, false, 'netmeter still running before q');
    await tmux.run('send-keys', '-t', tmux.session, 'q');
    const deadline = Date.now() + 10_000;
    while (!existsSync(exitFile) && Date.now() < deadline) await sleep(100);
    assert.ok(existsSync(exitFile), `netmeter did not exit within 10 s of q; screen:\n${await tmux.screen()}`);
    assert.equal(readFileSync(exitFile, 'utf8').trim(), 'EXIT=0', `netmeter's exit code; screen:\n${await tmux.screen()}`);
    // The terminal is restored: the cursor shows again (tmux may take a moment to process
    // the last bytes), and Enter ends the shell's read, so the pane's command finishes.
    const cursorDeadline = Date.now() + 3000;
    while (!(await tmux.paneState()).cursorVisible && Date.now() < cursorDeadline) await sleep(100);
    assert.equal((await tmux.paneState()).cursorVisible, true, 'the cursor is visible again after quitting');
    await tmux.run('send-keys', '-t', tmux.session, 'Enter');
    const deadDeadline = Date.now() + 5000;
    while (!(await tmux.paneState()).dead && Date.now() < deadDeadline) await sleep(100);
    assert.equal((await tmux.paneState()).dead, true,
      `the shell's read did not end on Enter: the terminal was left in raw mode? screen:\n${await tmux.screen()}`);
  } finally {
    await tmux.kill();
    await group.cleanup();
    tmp.remove();
  }
});

/** The pids of the processes table, top to bottom (a folded row has none). */
function pidOrder(screen: string): number[] {
  return screen.split('\n').flatMap((line) => {
    const match = /^\s*(\d+) /.exec(line);
    return match ? [Number(match[1])] : [];
  });
}

/** The selected process: Enter opens its connections ("Connections of PID name"), Backspace goes back to it. */
async function selectedPid(tmux: Tmux): Promise<number> {
  await tmux.keys('Enter');
  const opened = await pollScreen(tmux, 'a process\'s connections after Enter', (s) => /Connections of \d+ /.test(s));
  await tmux.keys('BSpace');
  await pollScreen(tmux, 'the processes table after Backspace', (s) => !s.includes('Connections of') && /PID +USER +PROGRAM/.test(s));
  return Number(/Connections of (\d+) /.exec(opened)![1]);
}

test('live UI in tmux: exited clients fold in rate mode and stay in cumulative mode; Home/End/PgUp/PgDn, Esc to the top, the selection follows its process', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('ui-rows');
  const tmux = new Tmux();
  try {
    const [port] = randomPorts(1, 12000, 20000) as [number];
    const SHORT = 12;
    // 16 lines: the lo line and the session line, the title row, 11 lines of rows (10 and
    // "… N more"), the footer and a spare line. Intervals of 0.5 s: exited processes quiet
    // for 3 intervals (1.5 s) fold.
    await tmux.start(`${shellQuote(process.execPath)} ${shellQuote(CLI)} -i lo --interval 500ms --filter ${shellQuote(`port ${port}`)}`, { columns: 120, rows: 16 });
    await pollScreen(tmux, 'the live screen', (s) => /view processes/.test(s));

    // A server that answers each 1000-byte datagram with 100 bytes, a client that keeps
    // sending (one a 50 ms), and SHORT clients that send 5 datagrams each and exit.
    const server = await startWorkload(group, 'udp-server', 'udp-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--count', String(1200 + SHORT * 5), '--reply-size', '100', '--now', '--timeout', '100']);
    const steady = await startWorkload(group, 'udp-steady', 'udp-client',
      ['--connect', '127.0.0.1', '--port', String(port), '--connected', '--count', '1200', '--size', '1000', '--reply-size', '100', '--pace-ms', '50', '--now', '--timeout', '100']);
    const goFile = path.join(tmp.dir, 'go');
    const shorts: Workload[] = [];
    for (let i = 0; i < SHORT; i++) {
      shorts.push(await startWorkload(group, `udp-short-${i}`, 'udp-client',
        ['--connect', '127.0.0.1', '--port', String(port), '--connected', '--count', '5', '--size', '1000', '--reply-size', '100', '--go-file', goFile, '--timeout', '100']));
    }
    // Their sockets exist before they send: a timed re-read of /proc (every second) names their owners.
    await sleep(2000);
    signalGo(goFile);
    for (const w of shorts) await waitDone(w);
    const shortPids = shorts.map((w) => w.pid).sort((a, b) => a - b);

    // Rate mode: the exited clients leave the table, folded into one row that keeps their bytes.
    const folded = await pollScreen(tmux, `one row "node (${SHORT} exited)" and no row of an exited client`,
      (s) => s.includes(`node (${SHORT} exited)`) && !pidOrder(s).some((pid) => shortPids.includes(pid)));
    assert.deepEqual(pidOrder(folded).sort((a, b) => a - b), [server.pid, steady.pid].sort((a, b) => a - b), folded);
    assert.ok(!folded.includes('more'), `every row fits: ${folded}`);

    // Cumulative mode: each client has its row again. By total: the server (all traffic),
    // the steady client, then the short ones. 14 rows, 10 on screen: the first 10, and
    // after End the last 10, together every process once.
    await tmux.keys('m');
    const top = await pollScreen(tmux, 'cumulative mode with the first 10 rows', (s) => /sort total \(cumulative\)/.test(s) && pidOrder(s).length === 10);
    assert.deepEqual(pidOrder(top).slice(0, 2), [server.pid, steady.pid], top);
    assert.match(top, /… 4 more/);
    await tmux.keys('End');
    const bottom = await pollScreen(tmux, 'the last rows after End', (s) => /^ *… 4 more above *$/m.test(s) && pidOrder(s).length === 10);
    assert.deepEqual(pidOrder(bottom).slice(0, 6), pidOrder(top).slice(4), `End scrolled by 4 rows:\n${top}\n${bottom}`);
    const order = [...pidOrder(top), ...pidOrder(bottom).slice(6)];
    assert.deepEqual([...order].sort((a, b) => a - b), [server.pid, steady.pid, ...shortPids].sort((a, b) => a - b), 'each exited client has its row');
    assert.equal(await selectedPid(tmux), order[13], 'End selects the last row');
    await tmux.keys('PPage');
    assert.equal(await selectedPid(tmux), order[13 - 10], 'PgUp goes up a page of 10 rows');
    await tmux.keys('Home');
    assert.equal(await selectedPid(tmux), order[0], 'Home selects the first row');
    await tmux.keys('NPage');
    assert.equal(await selectedPid(tmux), order[10], 'PgDn goes down a page');

    // Deep among the dead rows, Esc goes back to the top of the list.
    await tmux.keys('End', 'Escape');
    const home = await pollScreen(tmux, 'the top of the list after Esc', (s) => pidOrder(s)[0] === order[0]);
    assert.deepEqual(pidOrder(home), order.slice(0, 10), home);
    assert.equal(await selectedPid(tmux), order[0], 'Esc: the highlight is on the top row');

    // The selection stays on its process as the sort reorders the rows: the steady client
    // (second by total) leads by upload (it sends 1000 bytes for each 100 it receives).
    await tmux.keys('Down');
    assert.equal(await selectedPid(tmux), steady.pid);
    await tmux.keys('u');
    await pollScreen(tmux, 'sorted by upload, the steady client first', (s) => /sort upload/.test(s) && pidOrder(s)[0] === steady.pid);
    assert.equal(await selectedPid(tmux), steady.pid, 'the selection followed the steady client to the first row');
    await tmux.keys('d');
    const byDownload = await pollScreen(tmux, 'sorted by download', (s) => /sort download/.test(s) && pidOrder(s)[0] === server.pid);
    assert.notEqual(pidOrder(byDownload).indexOf(steady.pid), 0);
    assert.equal(await selectedPid(tmux), steady.pid, 'and stayed on it when it moved down again');

    assert.ok(!(await tmux.screen()).includes('not shown'), 'lo is captured: nothing to say about it');
    await tmux.keys('q');
    const deadline = Date.now() + 10_000;
    while (!(await tmux.paneState()).dead && Date.now() < deadline) await sleep(100);
    assert.equal((await tmux.paneState()).dead, true, 'netmeter quits on q');
  } finally {
    await tmux.kill();
    await group.cleanup();
    tmp.remove();
  }
});

/** A veth pair of our own (no addresses, IPv6 off: it carries nothing), removed at the end. */
function vethPair(): { name: string; remove: () => void } {
  const name = `liveui${process.pid % 100000}a`;
  const peer = `liveui${process.pid % 100000}b`;
  execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
  const remove = () => {
    try {
      execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  try {
    for (const dev of [name, peer]) {
      execFileSync('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
      execFileSync('ip', ['link', 'set', dev, 'up']);
    }
  } catch (error) {
    remove();
    throw error;
  }
  return { name, remove };
}

const vethSkip = skip ?? liveSkipReason(['ip', 'sysctl']);

test('live UI in tmux: captured on another interface while lo carries traffic, the header and ? say lo is not shown and how to show it', { skip: vethSkip ?? false, timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmux = new Tmux();
  const veth = vethPair();
  try {
    const [port] = randomPorts(1, 12000, 20000) as [number];
    await tmux.start(`${shellQuote(process.execPath)} ${shellQuote(CLI)} -i ${veth.name} --interval 500ms`, { columns: 120, rows: 30 });
    await pollScreen(tmux, 'the live screen', (s) => /view processes/.test(s));
    await startWorkload(group, 'udp-server', 'udp-server', ['--bind', '127.0.0.1', '--port', String(port), '--count', '200', '--now', '--timeout', '40']);
    await startWorkload(group, 'udp-client', 'udp-client',
      ['--connect', '127.0.0.1', '--port', String(port), '--connected', '--count', '200', '--size', '1000', '--pace-ms', '25', '--now', '--timeout', '40']);

    const screen = await pollScreen(tmux, 'a header line saying lo is not shown', (s) => /^lo .*not shown: -i lo\s*$/m.test(s));
    const lo = screen.split('\n').find((l) => l.startsWith('lo '))!;
    const captured = screen.split('\n').find((l) => l.startsWith(veth.name))!;
    assert.match(lo, /total ↑\d/, `lo's kernel totals: ${lo}`);
    assert.equal(lo.indexOf('total'), captured.indexOf('total'), `the two interface lines line up:\n${captured}\n${lo}`);
    assert.match(screen, /no traffic yet/, 'nothing captured on the quiet veth');

    await tmux.keys('?');
    await pollScreen(tmux, 'the help saying how to capture lo', (s) => s.includes('lo not shown: loopback is captured only when named') && s.includes(`to see it too: netmeter -i ${veth.name} -i lo`));
    await tmux.keys('q');
  } finally {
    await tmux.kill();
    await group.cleanup();
    veth.remove();
  }
});
