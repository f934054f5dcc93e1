// The real live screen, in a terminal: netmeter runs in a detached tmux session (its own
// tmux server, so nothing else's sessions are touched) while a paced workload moves data on
// 127.0.0.1; the screen must show the workload's row, named node, with a non-zero rate;
// 'b' switches rates to bits; 'q' quits with exit code 0, the cursor visible again and the
// terminal back in cooked mode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI } from './support/run-cli.js';
import { ProcGroup, liveSkipReason, randomPorts, sleep, startWorkload, tempDir, type Workload } from './support/live-harness.js';

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

  async start(command: string): Promise<void> {
    // remain-on-exit keeps the pane (and its last screen) after the command ends.
    await this.run('new-session', '-d', '-s', this.session, '-x', '120', '-y', '30', command, ';',
      'set-option', '-t', this.session, 'remain-on-exit', 'on');
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
