// The live screen driven like a user would: frames published to a feed, keys on stdin,
// the screen read back from ink-testing-library's last frame.

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, render } from 'ink-testing-library';
import { LiveApp } from '../src/present/live/live-app.js';
import { LiveFeedStore } from '../src/present/live/live-feed.js';
import type { LiveFrame } from '../src/present/live/live-feed.js';
import type { ConnectionUsage, ProcessUsage, UsageReport } from '../src/present/usage-report.js';
import { buildUsageReport } from '../src/present/usage-report.js';
import { Meter } from '../src/account/meter.js';
import type { Attribution } from '../src/account/attribution.js';
import type { ProcessInfo } from '../src/attribute/types.js';
import { LinkType, PacketBatchBuilder } from '../src/capture/packet-batch.js';
import { ipv4, tcp } from './support/packet-builder.js';

// A failed assertion must not leave an app mounted.
afterEach(cleanup);

function processUsage(p: Partial<ProcessUsage> & Pick<ProcessUsage, 'pid' | 'name'>): ProcessUsage {
  return { cmdline: p.name, user: 'alice', sentBytes: 0, receivedBytes: 0, sentPackets: 1, receivedPackets: 1, sentRate: 0, receivedRate: 0, ...p };
}

function connection(c: Partial<ConnectionUsage> & Pick<ConnectionUsage, 'localPort' | 'remoteAddress' | 'remotePort' | 'pid' | 'name'>): ConnectionUsage {
  return { protocol: 'tcp', localAddress: '192.168.1.10', sentBytes: 0, receivedBytes: 0, sentPackets: 1, receivedPackets: 1, packets: 2, ...c };
}

const FIREFOX = '/usr/lib/firefox/firefox';

/** A laptop a minute into `sudo netmeter`: firefox with two processes, ssh uploading, a curl download that finished. */
function laptopReport(): UsageReport {
  const processes = [
    processUsage({ pid: 2001, name: 'firefox', exe: FIREFOX, cmdline: `${FIREFOX} --new-window`, sentRate: 2000, receivedRate: 150000, sentBytes: 40000, receivedBytes: 9_000_000 }),
    processUsage({ pid: 2002, name: 'firefox', exe: FIREFOX, cmdline: `${FIREFOX} -contentproc`, sentRate: 1000, receivedRate: 50000, sentBytes: 20000, receivedBytes: 3_000_000 }),
    processUsage({ pid: 3100, name: 'curl', user: 'bob', exe: '/usr/bin/curl', cmdline: 'curl -O https://example.org/big.iso', exited: true, sentBytes: 500, receivedBytes: 20_000_000 }),
    processUsage({ pid: 1500, name: 'ssh', exe: '/usr/bin/ssh', cmdline: 'ssh backup@198.51.100.7', sentRate: 100000, receivedRate: 1000, sentBytes: 5_000_000, receivedBytes: 200_000 }),
    processUsage({ pid: 600, name: 'systemd-resolved', user: 'systemd-resolve', sentRate: 100, receivedRate: 200, sentBytes: 6000, receivedBytes: 12000 }),
  ];
  const connections = [
    connection({ localPort: 51000, remoteAddress: '93.184.216.34', remotePort: 443, pid: 2001, name: 'firefox', sentBytes: 30000, receivedBytes: 8_000_000, sentRate: 1500, receivedRate: 120000 }),
    connection({ localPort: 51004, remoteAddress: '151.101.1.69', remotePort: 443, pid: 2001, name: 'firefox', sentBytes: 10000, receivedBytes: 1_000_000, sentRate: 500, receivedRate: 30000 }),
    connection({ localPort: 51002, remoteAddress: '93.184.216.34', remotePort: 443, pid: 2002, name: 'firefox', sentBytes: 20000, receivedBytes: 3_000_000, sentRate: 1000, receivedRate: 50000 }),
    connection({ localPort: 52000, remoteAddress: '151.101.1.69', remotePort: 443, pid: 3100, name: 'curl', sentBytes: 500, receivedBytes: 20_000_000 }),
    connection({ localPort: 40222, remoteAddress: '198.51.100.7', remotePort: 22, pid: 1500, name: 'ssh', sentBytes: 5_000_000, receivedBytes: 200_000, sentRate: 100000, receivedRate: 1000 }),
    connection({ protocol: 'udp', localPort: 41000, remoteAddress: '1.1.1.1', remotePort: 53, pid: 600, name: 'systemd-resolved', sentBytes: 6000, receivedBytes: 12000, sentRate: 100, receivedRate: 200 }),
    connection({ localPort: 60000, remoteAddress: '203.0.113.9', remotePort: 80, pid: null, name: null, sentBytes: 1000, receivedBytes: 4000 }),
  ];
  const bucket = { packets: 10, bytes: 5000, sentBytes: 1000, receivedBytes: 4000, sentPackets: 4, receivedPackets: 6 };
  return {
    version: 1,
    source: { kind: 'live', interfaces: ['eth0', 'lo'], packets: 30000, bytes: 37_300_000 },
    durationSeconds: 65,
    totals: { packets: 30000, bytes: 37_300_000, sentBytes: 5_070_000, receivedBytes: 32_230_000, sentPackets: 12000, receivedPackets: 18000 },
    processes,
    connections,
    unknown: bucket,
    other: { ...bucket, bytes: 0, packets: 0, byReason: {} },
    interfaces: [
      { name: 'eth0', rxBytes: 32_000_000, txBytes: 5_000_000, rxPackets: 17000, txPackets: 11000, kernelRxBytes: 32_500_000, kernelTxBytes: 5_100_000, rxRate: 201000, txRate: 33000, kernelRxRate: 202000, kernelTxRate: 33100, droppedPackets: 12 },
      { name: 'lo', rxBytes: 300_000, txBytes: 300_000, rxPackets: 1000, txPackets: 1000 },
    ],
    retiredConnections: 0,
  };
}

function laptopFrame(): LiveFrame {
  return { report: laptopReport(), elapsedSeconds: 65, intervalSeconds: 1 };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

async function settle(app: { frames: string[] }, framesBefore: number): Promise<void> {
  const deadline = Date.now() + 1500;
  while (app.frames.length === framesBefore && Date.now() < deadline) await tick();
  // Then until frames stop coming: a resize draws twice (Ink's own layout, then the app's).
  let seen: number;
  do {
    seen = app.frames.length;
    await tick();
    await tick();
  } while (app.frames.length !== seen && Date.now() < deadline + 1500);
}

async function start(frame: LiveFrame = laptopFrame(), size?: { columns: number; rows?: number }, ownersFrom?: string) {
  const feed = new LiveFeedStore(frame);
  const calls = { quit: 0, pauses: [] as boolean[] };
  const app = render(<LiveApp feed={feed} onQuit={() => calls.quit++} onPauseChange={(paused) => calls.pauses.push(paused)} {...(ownersFrom ? { ownersFrom } : {})} />);
  await settle(app, 0);
  if (size) {
    Object.defineProperty(app.stdout, 'columns', { value: size.columns, configurable: true });
    if (size.rows) Object.defineProperty(app.stdout, 'rows', { value: size.rows, configurable: true });
    // Wait for the frame drawn at the new size.
    const before = app.frames.length;
    app.stdout.emit('resize');
    await settle(app, before);
  }
  // Ink handles input and renders asynchronously: wait for the frame each key causes, with a
  // bound for keys that change nothing, so a loaded machine does not read a stale screen.
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      const before = app.frames.length;
      app.stdin.write(key);
      await settle(app, before);
    }
  };
  const screen = () => app.lastFrame() ?? '';
  return { app, feed, calls, press, screen };
}

function lines(screen: string): string[] {
  return screen.replace(/\u001B\[[0-9;]*m/g, '').split('\n');
}

/** The pids of the processes table, top to bottom. */
function pidOrder(screen: string): number[] {
  return lines(screen).flatMap((line) => {
    const match = /^\s*(\d+) /.exec(line);
    return match ? [Number(match[1])] : [];
  });
}

function lineWith(screen: string, text: string): string {
  const found = lines(screen).filter((line) => line.includes(text));
  assert.equal(found.length, 1, `one line with ${JSON.stringify(text)} in:\n${screen}`);
  return found[0]!;
}

/** The session line under the interfaces. */
function statusLine(screen: string): string {
  const found = lines(screen).filter((line) => /view (processes|applications|connections|hosts)/.test(line));
  assert.equal(found.length, 1, `one status line in:\n${screen}`);
  return found[0]!;
}

test('the header shows each interface, the unknown share, elapsed time and interval', async () => {
  const { app, screen } = await start(laptopFrame(), { columns: 120 });
  const eth0 = lineWith(screen(), 'eth0');
  assert.match(eth0, /↑32\.3 KiB\/s +↓197\.3 KiB\/s/, 'kernel rates');
  assert.match(eth0, /total ↑4\.86 MiB ↓31\.0 MiB/, 'kernel totals since start');
  assert.match(eth0, /captured ↑4\.77 MiB +↓30\.5 MiB/, 'captured totals beside them');
  assert.match(eth0, /dropped 12/);
  const lo = lineWith(screen(), 'lo ');
  assert.match(lo, /^lo +captured ↑293\.0 KiB ↓293\.0 KiB$/);
  assert.equal(lo.indexOf('captured'), eth0.indexOf('captured'), 'lo\'s captured totals stand under eth0\'s');
  const status = statusLine(screen());
  for (const part of ['unknown <0.1%', '1m05s', 'every 1s', 'view processes', 'sort total (rate)', 'B/s']) assert.ok(status.includes(part), `${part} in ${status}`);
  assert.ok(!screen().includes('PAUSED'));
  app.unmount();
});

test('the processes table lists every process, exited ones marked, with rates and totals', async () => {
  const { app, screen } = await start();
  assert.match(lineWith(screen(), 'PROGRAM'), /PID +USER +PROGRAM +UPLOAD▼ +DOWNLOAD▼ +SENT +RECEIVED/);
  const firefox = lineWith(screen(), '2001');
  assert.match(firefox, /^2001 alice +firefox {2}\/usr\/lib\/firefox\/firefox --n… +1\.95 KiB\/s +146\.5 KiB\/s +39\.1 KiB +8\.58 MiB$/);
  assert.match(lineWith(screen(), '3100'), /curl \(exited\) {2}curl -O/);
  app.unmount();
});

test('--by host: the processes view lists subscribers, with no pid or user column', async () => {
  const report: UsageReport = {
    ...laptopReport(),
    by: 'host',
    processes: [
      processUsage({ pid: null as unknown as number, host: '198.18.1.2', name: '198.18.1.2', cmdline: '', user: null, sentRate: 2000, receivedRate: 90_000 }),
      processUsage({ pid: null as unknown as number, host: 'fd00:1:0:3::/64', name: 'fd00:1:0:3::/64', cmdline: '', user: null, sentRate: 100, receivedRate: 500 }),
    ],
  };
  const { app, screen } = await start({ report, elapsedSeconds: 65, intervalSeconds: 1 }, { columns: 100 });
  assert.match(lineWith(screen(), 'SUBSCRIBER'), /^SUBSCRIBER +UPLOAD▼ +DOWNLOAD▼ +SENT +RECEIVED$/);
  assert.ok(!screen().includes('PID'), 'no pid column');
  assert.match(lineWith(screen(), '198.18.1.2'), /^198\.18\.1\.2 +1\.95 KiB\/s +87\.9 KiB\/s/);
  assert.match(lineWith(screen(), 'fd00:1:0:3::/64'), /^fd00:1:0:3::\/64 +100 B\/s +500 B\/s/);
  app.unmount();
});

test('u, d and t sort by upload, download and total rate, descending', async () => {
  const { app, screen, press } = await start();
  assert.deepEqual(pidOrder(screen()), [2001, 1500, 2002, 600, 3100], 'total rate by default');
  await press('u');
  assert.deepEqual(pidOrder(screen()), [1500, 2001, 2002, 600, 3100]);
  assert.match(statusLine(screen()), /sort upload \(rate\)/);
  await press('d');
  assert.deepEqual(pidOrder(screen()), [2001, 2002, 1500, 600, 3100]);
  await press('t');
  assert.deepEqual(pidOrder(screen()), [2001, 1500, 2002, 600, 3100]);
  app.unmount();
});

test('equal amounts keep a stable order by pid', async () => {
  const frame = laptopFrame();
  for (const p of frame.report.processes) Object.assign(p, { sentRate: 10, receivedRate: 10 });
  const { app, screen } = await start(frame);
  assert.deepEqual(pidOrder(screen()), [600, 1500, 2001, 2002, 3100]);
  app.unmount();
});

test('m switches to cumulative totals: they lead the table and order it', async () => {
  const { app, screen, press } = await start(laptopFrame(), { columns: 60 });
  assert.match(lineWith(screen(), '2001'), /146\.5 KiB\/s/);
  assert.ok(!lineWith(screen(), '2001').includes('8.58 MiB'), 'totals are dropped at 60 columns in rate mode');
  await press('m');
  assert.match(lineWith(screen(), 'PROGRAM'), /SENT▼ +RECEIVED▼$/);
  assert.match(lineWith(screen(), '2001'), /39\.1 KiB +8\.58 MiB$/);
  assert.ok(!lineWith(screen(), '2001').includes('146.5 KiB/s'));
  assert.deepEqual(pidOrder(screen()), [3100, 2001, 1500, 2002, 600], 'curl moved far ahead of what it did last second');
  assert.match(statusLine(screen()), /sort total \(cumulative\)/);
  await press('u');
  assert.deepEqual(pidOrder(screen()), [1500, 2001, 2002, 600, 3100]);
  await press('m');
  assert.match(lineWith(screen(), '2001'), /146\.5 KiB\/s/);
  app.unmount();
});

test('b shows rates in bits per second', async () => {
  const { app, screen, press } = await start();
  await press('b');
  assert.match(lineWith(screen(), '2001'), /16\.0 kbit\/s +1\.2 Mbit\/s +39\.1 KiB +8\.58 MiB$/);
  assert.match(lineWith(screen(), 'eth0'), /↑265 kbit\/s +↓1\.6 Mbit\/s/);
  assert.match(statusLine(screen()), /bit\/s/);
  await press('b');
  assert.match(lineWith(screen(), '2001'), /1\.95 KiB\/s +146\.5 KiB\/s/);
  app.unmount();
});

test('the applications view sums the processes of one executable', async () => {
  const { app, screen, press } = await start();
  await press('2');
  assert.match(lineWith(screen(), 'PROGRAM'), /PIDS +USER +PROGRAM/);
  const firefox = lineWith(screen(), 'firefox');
  assert.match(firefox, /^ +2 alice +firefox {2}\/usr\/lib\/firefox\/firefox +2\.93 KiB\/s +195\.3 KiB\/s +58\.6 KiB +11\.4 MiB$/);
  assert.match(lineWith(screen(), 'curl'), /^ +1 bob +curl \(exited\)/);
  assert.match(statusLine(screen()), /view applications/);
  assert.equal(lines(screen()).filter((line) => /^ +\d+ /.test(line)).length, 4, 'five processes, four programs');
  app.unmount();
});

test('the connections view lists every socket record with its owner', async () => {
  const { app, screen, press } = await start();
  await press('3');
  assert.match(lineWith(screen(), 'REMOTE'), /PROTO +REMOTE +PID +PROGRAM +UPLOAD▼ +DOWNLOAD▼ +SENT +RECEIVED/);
  assert.match(lineWith(screen(), '198.51.100.7:22'), /^tcp +198\.51\.100\.7:22 +1500 ssh +97\.7 KiB\/s +1000 B\/s +4\.77 MiB +195\.3 KiB$/);
  assert.match(lineWith(screen(), '1.1.1.1:53'), /^udp .* 600 systemd-res…/);
  assert.match(lineWith(screen(), '203.0.113.9:80'), / - unknown /);
  assert.equal(lines(screen()).filter((line) => line.includes('93.184.216.34:443')).length, 2);
  app.unmount();
});

test('the remote hosts view groups connections by remote address', async () => {
  const { app, screen, press } = await start();
  await press('4');
  assert.match(lineWith(screen(), 'REMOTE HOST'), /REMOTE HOST +CONNS +PROGRAMS/);
  assert.match(lineWith(screen(), '151.101.1.69'), /^151\.101\.1\.69 +2 firefox,curl +500 B\/s +29\.3 KiB\/s +10\.3 KiB +20\.0 MiB$/);
  assert.match(lineWith(screen(), '93.184.216.34'), / 2 firefox +2\.44 KiB\/s +166\.0 KiB\/s /);
  app.unmount();
});

test('v cycles processes → applications → connections → hosts → processes', async () => {
  const { app, screen, press } = await start();
  const titles = [];
  for (let i = 0; i < 4; i++) {
    await press('v');
    titles.push(/view (\w+)/.exec(statusLine(screen()))![1]);
  }
  assert.deepEqual(titles, ['applications', 'connections', 'hosts', 'processes']);
  app.unmount();
});

test('arrows select a process and Enter shows only its connections; Esc and Backspace return', async () => {
  const { app, screen, press } = await start();
  await press('\u001B[B');
  await press('\r');
  assert.ok(screen().includes('Connections of 1500 ssh'), screen());
  assert.match(lineWith(screen(), '198.51.100.7:22'), /^tcp +192\.168\.1\.10:40222 +198\.51\.100\.7:22 /);
  assert.ok(!screen().includes('93.184.216.34'), 'no other process’s connections');
  await press('\u007F');
  assert.deepEqual(pidOrder(screen()), [2001, 1500, 2002, 600, 3100]);
  assert.ok(!screen().includes('Connections of'));
  await press('\u001B[B', '\r');
  assert.ok(screen().includes('Connections of 2002 firefox'), `Backspace went back to ssh, Down to the next: ${screen()}`);
  assert.equal(lines(screen()).filter((line) => line.includes('93.184.216.34:443')).length, 1);
  await press('\u001B');
  assert.ok(!screen().includes('Connections of'));
  await press('\r');
  assert.ok(screen().includes('Connections of 2001 firefox'), `Esc went back to the top of the list: ${screen()}`);
  app.unmount();
});

test('p freezes the screen on the frame of the moment, later frames show after resuming', async () => {
  const { app, screen, press, feed, calls } = await start();
  const next = laptopFrame();
  next.elapsedSeconds = 66;
  next.report.processes[0]!.receivedRate = 300000;
  {
    const before = app.frames.length;
    feed.publish(next);
    await settle(app, before);
  }
  assert.match(statusLine(screen()), /1m06s/, 'frames show while running');
  assert.match(lineWith(screen(), '2001'), /293\.0 KiB\/s/);
  await press('p');
  assert.deepEqual(calls.pauses, [true]);
  assert.match(screen(), /PAUSED/);
  const later = laptopFrame();
  later.elapsedSeconds = 67;
  later.report.processes[0]!.receivedRate = 1000;
  {
    const before = app.frames.length;
    feed.publish(later);
    await settle(app, before);
  }
  assert.match(statusLine(screen()), /1m06s/);
  assert.match(lineWith(screen(), '2001'), /293\.0 KiB\/s/);
  await press('u');
  assert.deepEqual(pidOrder(screen()), [1500, 2001, 2002, 600, 3100], 'keys still work on the frozen frame');
  await press('p');
  assert.deepEqual(calls.pauses, [true, false]);
  assert.ok(!screen().includes('PAUSED'));
  assert.match(statusLine(screen()), /1m07s/);
  assert.match(lineWith(screen(), '2001'), /1000 B\/s +39\.1 KiB/);
  app.unmount();
});

test('a frame the producer marks paused shows PAUSED', async () => {
  const { app, screen } = await start({ ...laptopFrame(), paused: true });
  assert.match(screen(), /PAUSED/);
  app.unmount();
});

test('/ filters rows by name or command line, case-insensitive; Enter keeps it, Esc clears it', async () => {
  const { app, screen, press, calls } = await start();
  await press('/', 'F', 'i', 'R', 'x', '\u007F', 'e');
  assert.match(screen(), /\/FiRe▏/, 'the prompt shows what is typed');
  assert.deepEqual(pidOrder(screen()), [2001, 2002]);
  await press('\r');
  assert.deepEqual(pidOrder(screen()), [2001, 2002]);
  assert.match(statusLine(screen()), /filter "FiRe"/);
  await press('2');
  assert.match(lineWith(screen(), 'firefox'), /^ +2 /);
  assert.ok(!screen().includes('ssh'));
  await press('1', '/', '\u001B');
  assert.deepEqual(pidOrder(screen()), [2001, 1500, 2002, 600, 3100]);
  await press('/', 'b', 'a', 'c', 'k', 'u', 'p', 'q', '\r');
  assert.deepEqual(pidOrder(screen()), [], '"backupq" matches nothing, and q in the prompt is text');
  assert.equal(calls.quit, 0);
  await press('/', '\u007F', '\r');
  assert.deepEqual(pidOrder(screen()), [1500], 'ssh by its command line');
  app.unmount();
});

test('? toggles the help overlay', async () => {
  const { app, screen, press } = await start();
  await press('?');
  assert.match(screen(), /Keys/);
  assert.match(lineWith(screen(), 'sort by upload'), /u \/ d \/ t +sort by upload \/ download \/ total/);
  assert.match(screen(), /filter by name or command line/);
  assert.ok(!screen().includes('firefox'), 'the overlay replaces the table');
  await press('?');
  assert.ok(!screen().includes('sort by upload'));
  assert.equal(pidOrder(screen()).length, 5);
  app.unmount();
});

test('the help overlay says where owners come from, and why not from the kernel', async () => {
  const { app, screen, press } = await start(laptopFrame(), undefined, '/proc only (kernel events unavailable: cannot load the BPF program: Operation not permitted)');
  assert.ok(!screen().includes('Owners from'), 'only on the help screen');
  await press('?');
  assert.match(screen(), /Owners from \/proc only \(kernel events unavailable: cannot load the BPF program/);
  app.unmount();
});

test('q calls onQuit', async () => {
  const { app, press, calls } = await start();
  await press('q');
  assert.equal(calls.quit, 1);
  app.unmount();
});

for (const columns of [100, 60, 40]) {
  test(`at ${columns} columns every view fits without wrapping`, async () => {
    const { app, screen, press } = await start(laptopFrame(), { columns, rows: 30 });
    for (const view of ['1', '2', '3', '4', '1\r', '?']) {
      await press(...(view === '1\r' ? ['1', '\r'] : [view]));
      for (const line of lines(screen())) assert.ok([...line].length <= columns, `${JSON.stringify(line)} is wider than ${columns} (view ${view})`);
      if (view === '?') await press('?');
      if (view === '1\r') await press('\u001B');
    }
    app.unmount();
  });
}

test('narrow terminals drop the command line, then USER, then the totals; PID, PROGRAM, UPLOAD, DOWNLOAD stay', async () => {
  const { app, screen } = await start(laptopFrame(), { columns: 80 });
  const resize = async (columns: number) => {
    Object.defineProperty(app.stdout, 'columns', { value: columns, configurable: true });
    const before = app.frames.length;
    app.stdout.emit('resize');
    await settle(app, before);
  };
  assert.match(lineWith(screen(), 'PROGRAM'), /^ PID USER +PROGRAM +UPLOAD▼ +DOWNLOAD▼ +SENT +RECEIVED$/);
  assert.match(lineWith(screen(), '2001'), /^2001 alice +firefox {2}\/usr\/lib… +1\.95 KiB\/s/, 'the command line is cut first');
  await resize(70);
  assert.match(lineWith(screen(), 'PROGRAM'), /^ PID PROGRAM +UPLOAD▼ +DOWNLOAD▼ +SENT +RECEIVED$/);
  assert.ok(!screen().includes('alice'));
  await resize(60);
  assert.match(lineWith(screen(), 'PROGRAM'), /^ PID PROGRAM +UPLOAD▼ +DOWNLOAD▼$/);
  assert.match(lineWith(screen(), '2001'), /^2001 firefox {2}\/usr\/lib\/firefox\/fi… +1\.95 KiB\/s +146\.5 KiB\/s$/);
  await resize(40);
  assert.match(lineWith(screen(), '2001'), /^2001 firefox… +1\.95 KiB\/s +146\.5 KiB\/s$/);
  await resize(100);
  assert.match(lineWith(screen(), 'PROGRAM'), /^ PID USER +PROGRAM +UPLOAD▼ +DOWNLOAD▼ +SENT +RECEIVED$/, 'columns come back when the terminal widens');
  app.unmount();
});

test('rows are limited to the terminal height, scrolling to keep the selection visible', async () => {
  const { app, screen, press } = await start(laptopFrame(), { columns: 100, rows: 10 });
  assert.ok(lines(screen()).length < 10, screen());
  assert.deepEqual(pidOrder(screen()), [2001, 1500, 2002]);
  assert.match(screen(), /… 2 more/);
  await press('\u001B[B', '\u001B[B', '\u001B[B', '\u001B[B');
  assert.deepEqual(pidOrder(screen()), [2002, 600, 3100]);
  await press('\r');
  assert.match(screen(), /Connections of 3100 curl/);
  app.unmount();
});

/** The laptop after a minute of a download loop: 30 curls that exited, each with its bytes. */
function deadRowsFrame(idleSeconds?: number): LiveFrame {
  const frame = laptopFrame();
  for (let i = 0; i < 30; i++) {
    frame.report.processes.push(
      processUsage({ pid: 5000 + i, name: 'curl', user: 'bob', exe: '/usr/bin/curl', cmdline: 'curl -sO http://198.51.100.7/x', exited: true, sentBytes: 100, receivedBytes: 10_000, ...(idleSeconds === undefined ? {} : { idleSeconds }) }),
    );
  }
  return frame;
}

/** The pid whose connections Enter opens (the selected row's), going back with Backspace. */
async function selectedPid(session: { press: (...keys: string[]) => Promise<void>; screen: () => string }): Promise<number | undefined> {
  await session.press('\r');
  const match = /Connections of (\d+) /.exec(session.screen());
  await session.press('\u007F');
  return match ? Number(match[1]) : undefined;
}

const HOME = '\u001B[H';
const END = '\u001B[F';
const PAGE_UP = '\u001B[5~';
const PAGE_DOWN = '\u001B[6~';
const ESC = '\u001B';
const DOWN = '\u001B[B';

test('Home, End, PgUp and PgDn move the selection among many rows; Esc goes back to the top of the list', async () => {
  // 16 lines: 3 of header, the title row, 10 lines of rows (9 and "… N more"), footer, a spare.
  const session = await start(deadRowsFrame(), { columns: 100, rows: 16 });
  const { app, screen, press } = session;
  const order = [2001, 1500, 2002, 600, 3100, ...Array.from({ length: 30 }, (_, i) => 5000 + i)];
  assert.deepEqual(pidOrder(screen()), order.slice(0, 9));
  assert.match(screen(), /… 26 more/);
  await press(END);
  assert.deepEqual(pidOrder(screen()), order.slice(26), 'End scrolls to the last row');
  assert.match(screen(), /^… 26 more above$/m);
  await press(PAGE_UP);
  assert.match(screen(), /^… 9 more, 17 above$/m, 'a page up: rows out of sight on both sides');
  await press(END);
  assert.equal(await selectedPid(session), 5029);
  await press(PAGE_UP);
  assert.equal(await selectedPid(session), order[34 - 9], 'PgUp goes up a page of 9 rows');
  await press(PAGE_UP, PAGE_UP, PAGE_UP);
  assert.equal(await selectedPid(session), 2001, 'and stops at the first row');
  await press(PAGE_DOWN, PAGE_DOWN);
  assert.equal(await selectedPid(session), order[18]);
  await press(HOME);
  assert.equal(await selectedPid(session), 2001);
  assert.deepEqual(pidOrder(screen()), order.slice(0, 9));
  // Down, Up, Enter, Esc from the bottom of the list: the way the user got lost.
  await press(END, '\r');
  assert.match(screen(), /Connections of 5029 curl/);
  await press(ESC);
  assert.deepEqual(pidOrder(screen()), order.slice(0, 9), 'Esc from a process\'s connections: the top of the list');
  assert.equal(await selectedPid(session), 2001);
  await press(END, ESC);
  assert.deepEqual(pidOrder(screen()), order.slice(0, 9), 'Esc in the list: the top of the list');
  assert.equal(await selectedPid(session), 2001);
  app.unmount();
});

test('the selection follows its process, not a row index, as the rows re-sort', async () => {
  const session = await start();
  const { app, feed, screen, press } = session;
  await press(DOWN);
  assert.equal(await selectedPid(session), 1500, 'ssh is second');
  // ssh stops uploading and sinks to the bottom of the live rows; its highlight goes along.
  const next = laptopFrame();
  Object.assign(next.report.processes.find((p) => p.pid === 1500)!, { sentRate: 10, receivedRate: 0 });
  const before = app.frames.length;
  feed.publish(next);
  await settle(app, before);
  assert.deepEqual(pidOrder(screen()), [2001, 2002, 600, 1500, 3100]);
  assert.equal(await selectedPid(session), 1500);
  await press(DOWN);
  assert.equal(await selectedPid(session), 3100, 'Down goes on from where ssh is now');
  app.unmount();
});

test('rate mode: exited processes quiet for three intervals fold into one row per program; cumulative mode lists each', async () => {
  // Intervals of 2 s: a process quiet for 6 s folds.
  const frame = { ...deadRowsFrame(6), intervalSeconds: 2 };
  // Two curls went quiet only a second ago, the earlier curl 5 s ago: they keep their own rows.
  for (const p of frame.report.processes.filter((p) => p.pid === 5028 || p.pid === 5029)) p.idleSeconds = 1;
  frame.report.processes.find((p) => p.pid === 3100)!.idleSeconds = 5;
  const { app, screen, press } = await start(frame, { columns: 100, rows: 45 });
  assert.deepEqual(pidOrder(screen()), [2001, 1500, 2002, 600, 3100, 5028, 5029]);
  assert.ok(!screen().includes('more'), screen());
  const folded = lineWith(screen(), '28 exited');
  assert.match(folded, /^ +- bob +curl \(28 exited\) +0 B\/s +0 B\/s +2\.73 KiB +273\.4 KiB$/, 'their bytes stay, in one row');
  await press('m');
  assert.equal(pidOrder(screen()).length, 35, 'cumulative mode: every process has its row');
  assert.ok(!screen().includes('28 exited'), screen());
  await press('m');
  assert.match(screen(), /curl \(28 exited\)/);
  app.unmount();
});

test('a selected exited process keeps its row while it is selected', async () => {
  const session = await start(deadRowsFrame(1), { columns: 100, rows: 40 });
  const { app, feed, screen, press } = session;
  await press(END);
  assert.equal(await selectedPid(session), 5029);
  const before = app.frames.length;
  feed.publish(deadRowsFrame(10));
  await settle(app, before);
  assert.deepEqual(pidOrder(screen()), [2001, 1500, 2002, 600, 3100, 5029]);
  assert.match(screen(), /curl \(29 exited\)/);
  assert.equal(await selectedPid(session), 5029, 'the highlight did not lose it');
  await press(ESC);
  const after = app.frames.length;
  feed.publish(deadRowsFrame(11));
  await settle(app, after);
  assert.match(screen(), /curl \(30 exited\)/, 'once the selection moves on it folds too');
  app.unmount();
});

test('lo with traffic but not captured: the header says so and how to capture it, and so does ?', async () => {
  const frame = laptopFrame();
  frame.report.interfaces = frame.report.interfaces.filter((i) => i.name !== 'lo');
  frame.report.source.interfaces = ['eth0'];
  frame.report.uncapturedInterfaces = [{ name: 'lo', rxBytes: 700_000, txBytes: 700_000, rxRate: 2048, txRate: 2048 }];
  const { app, screen, press } = await start(frame, { columns: 80 });
  const eth0 = lineWith(screen(), 'eth0');
  const lo = lineWith(screen(), 'lo ');
  assert.match(lo, /^lo +↑2\.00 KiB\/s +↓2\.00 KiB\/s +.*not shown: -i lo$/);
  assert.equal(lo.indexOf('↓'), eth0.indexOf('↓'), 'its rates stand under eth0\'s');
  await press('?');
  assert.match(screen(), /^lo not shown: loopback is captured only when named$/m);
  assert.match(screen(), /^to see it too: netmeter -i eth0 -i lo$/m);
  app.unmount();
});

test('lo not captured and quiet: no header line, but ? still says how to capture it', async () => {
  const frame = laptopFrame();
  frame.report.interfaces = frame.report.interfaces.filter((i) => i.name !== 'lo');
  frame.report.source.interfaces = ['eth0'];
  frame.report.uncapturedInterfaces = [{ name: 'lo', rxBytes: 0, txBytes: 0, rxRate: 0, txRate: 0 }];
  const { app, screen, press } = await start(frame);
  assert.ok(!screen().includes('not shown'), screen());
  assert.ok(!lines(screen()).some((line) => line.startsWith('lo ')));
  await press('?');
  assert.match(screen(), /lo not shown: loopback is captured only when named/);
  app.unmount();
});

test('at 80 columns the footer keeps its last hints whole, and the interface lines line up', async () => {
  const { app, screen } = await start(laptopFrame(), { columns: 80 });
  const footer = lines(screen()).at(-1)!;
  assert.match(footer, /· \? help · q quit$/, footer);
  assert.ok([...footer].length <= 80);
  assert.ok(!footer.includes('…'));
  const eth0 = lineWith(screen(), 'eth0');
  const lo = lineWith(screen(), 'lo ');
  assert.equal(lo.indexOf('captured'), eth0.indexOf('captured'), `\n${eth0}\n${lo}`);
  for (const line of lines(screen())) assert.ok([...line].length <= 80, line);
  app.unmount();
});

test('the applications view from the meter: processes of one executable are one row, whatever their names', async () => {
  const FIREFOX = '/usr/lib/firefox/firefox';
  const owners = new Map<number, ProcessInfo>([
    [40001, { pid: 2001, name: 'firefox', cmdline: FIREFOX, user: 'alice', uid: 1000, exe: FIREFOX }],
    [40002, { pid: 2002, name: 'Web Content', cmdline: `${FIREFOX} -contentproc`, user: 'alice', uid: 1000, exe: FIREFOX }],
    [40003, { pid: 1500, name: 'ssh', cmdline: 'ssh backup', user: 'alice', uid: 1000, exe: '/usr/bin/ssh' }],
  ]);
  const attribution: Attribution = { isLocal: (a) => a === '198.18.0.1', owner: (_protocol, _local, localPort) => owners.get(localPort) };
  const packets = [...owners.keys()].map((port) => ipv4('198.18.5.5', '198.18.0.1', 6, tcp(443, port)));
  const builder = new PacketBatchBuilder(packets.length);
  let offset = 0;
  for (const [i, packet] of packets.entries()) {
    builder.push(offset, packet.length, 100_000, 1000 + i, 0);
    offset += packet.length;
  }
  const meter = new Meter(attribution);
  meter.ingest(builder.take(Buffer.concat(packets), [{ name: 'eth0', linkType: LinkType.RAW }]));
  const report = buildUsageReport(meter, { kind: 'live', interfaces: ['eth0'] }, 1);
  const { app, screen, press } = await start({ report, elapsedSeconds: 1, intervalSeconds: 1 });
  await press('2');
  assert.match(lineWith(screen(), 'firefox'), /^ +2 alice +firefox {2}\/usr\/lib\/firefox\/firefox /);
  assert.ok(!screen().includes('Web Content'), screen());
  assert.match(lineWith(screen(), 'ssh'), /^ +1 alice +ssh /);
  app.unmount();
});
