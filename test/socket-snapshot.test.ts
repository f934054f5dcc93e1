import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcFs } from '../src/attribute/proc/proc-fs.js';
import {
  ProcessCache,
  parseSocketSnapshot,
  serializeSocketSnapshot,
  SnapshotFormatError,
  SnapshotReader,
  takeSocketSnapshot,
  WALK_AT_LEAST_EVERY_MS,
} from '../src/attribute/socket-snapshot.js';
import { walkSocketOwnersJs } from '../src/attribute/socket-owners.js';
import type { SocketEntry, SocketSnapshot } from '../src/attribute/types.js';

const HOST_SAMPLE = fileURLToPath(new URL('../../fixtures/proc/host-sample', import.meta.url));
const clock = () => 1_700_000_000_123;

test('a snapshot of the fixture host: owners of table sockets only, lowest pid first', async () => {
  const snapshot = await takeSocketSnapshot(new ProcFs(HOST_SAMPLE, undefined, 'LE'), undefined, clock);
  assert.equal(snapshot.version, 1);
  assert.equal(snapshot.takenAt, 1_700_000_000.123);
  assert.equal(snapshot.sockets.length, 17);
  assert.deepEqual(snapshot.localAddresses, ['127.0.0.1', '192.0.2.2', 'fd00::2', '::1', 'fe80::fc:ff:fe00:1']);
  // The fd trees also hold unix sockets (6525, 6526) and the tables a listener no fixture
  // process holds (1065): neither is an owner entry.
  assert.deepEqual(snapshot.owners, [
    [6074, [4429, 4440]],
    [6075, [4429]],
    [6076, [4429]],
    [6077, [4429]],
    [6078, [4429]],
    [6518, [4418]],
    [6519, [4418]],
    [6520, [4418]],
    [6521, [4418]],
    [6522, [4418]],
    [6523, [4418]],
    [6524, [4418]],
    [6529, [4418]],
    [6530, [4418]],
    [6531, [4418]],
  ]);
  assert.deepEqual(
    snapshot.processes.map((p) => [p.pid, p.name, p.user]),
    [
      [4418, 'node', 'root'],
      [4429, 'node', 'nobody'],
      [4440, 'sleep', 'nobody'],
    ],
  );
});

test('pids whose process is gone by the read are dropped, and inodes left with none', async () => {
  const walk = async (root: string) => {
    assert.equal(root, HOST_SAMPLE);
    return new Map([
      [6074, [4440, 4429]],
      [6521, [77777, 4418]],
      [6522, [77777]],
      [9999, [1]],
    ]);
  };
  const snapshot = await takeSocketSnapshot(new ProcFs(HOST_SAMPLE, undefined, 'LE'), walk, clock);
  assert.deepEqual(snapshot.owners, [
    [6074, [4429, 4440]],
    [6521, [4418]],
  ]);
  assert.deepEqual(snapshot.processes.map((p) => p.pid), [4418, 4429, 4440]);
});

test('serialize then parse gives the same snapshot, one row per line', async () => {
  const snapshot = await takeSocketSnapshot(new ProcFs(HOST_SAMPLE, undefined, 'LE'), undefined, clock);
  snapshot.processes[0]!.exe = '/usr/bin/node';
  const text = serializeSocketSnapshot(snapshot);
  assert.deepEqual(parseSocketSnapshot(text, 'snap.json'), snapshot);
  assert.ok(text.endsWith('}\n'));
  assert.equal(text.split('\n').length, 11 + 17 + 15 + 3 + 1);
  assert.ok(text.includes('\n    [6074,[4429,4440]],\n'));
});

const minimal = (): SocketSnapshot => ({
  version: 1,
  takenAt: 1,
  localAddresses: ['198.18.0.1'],
  sockets: [{ protocol: 'udp', localAddress: '0.0.0.0', localPort: 53, remoteAddress: '0.0.0.0', remotePort: 0, inode: 5, uid: 0, state: 7 }],
  owners: [[5, [10]]],
  processes: [{ pid: 10, name: 'dns', cmdline: 'dns', user: null, uid: null }],
});

test('addresses are made canonical and owner pids sorted on reading', () => {
  const doc = minimal() as unknown as Record<string, unknown>;
  doc['localAddresses'] = ['FD00::0001', '::FFFF:198.18.0.1'];
  doc['owners'] = [[5, [30, 10]]];
  const parsed = parseSocketSnapshot(JSON.stringify(doc), 'hand.json');
  assert.deepEqual(parsed.localAddresses, ['fd00::1', '::ffff:198.18.0.1']);
  assert.deepEqual(parsed.owners, [[5, [10, 30]]]);
});

test('a malformed snapshot is a one-line SnapshotFormatError naming the path and the fault', () => {
  const variant = (change: (doc: Record<string, any>) => void) => {
    const doc = minimal() as unknown as Record<string, any>;
    change(doc);
    return JSON.stringify(doc);
  };
  const cases: Array<[string, string]> = [
    ['{"version": 1,', 'snap.json: not JSON'],
    ['[]', 'snap.json: the document must be an object, got []'],
    [variant((d) => (d['version'] = 2)), 'snap.json: unsupported version 2; this netmeter reads version 1'],
    [variant((d) => delete d['takenAt']), 'snap.json: takenAt must be a number of seconds, got nothing'],
    [variant((d) => (d['localAddresses'] = ['eth0'])), 'snap.json: localAddresses[0] must be an IPv4 or IPv6 address, got "eth0"'],
    [variant((d) => (d['sockets'][0].protocol = 'sctp')), 'snap.json: sockets[0].protocol must be "tcp" or "udp", got "sctp"'],
    [variant((d) => (d['sockets'][0].localPort = 70000)), 'snap.json: sockets[0].localPort must be an integer from 0 to 65535, got 70000'],
    [variant((d) => (d['owners'] = [[5]])), 'snap.json: owners[0] must be [inode, [pid, ...]], got [5]'],
    [variant((d) => (d['owners'] = [[5, [1.5]]])), 'snap.json: owners[0][1][0] must be an integer from 0 to 2147483647, got 1.5'],
    [variant((d) => delete d['processes']), 'snap.json: processes must be an array, got nothing'],
    [variant((d) => (d['processes'][0].user = 7)), 'snap.json: processes[0].user must be a string, got 7'],
  ];
  for (const [json, message] of cases) {
    assert.throws(
      () => parseSocketSnapshot(json, 'snap.json'),
      (error: unknown) => {
        assert.ok(error instanceof SnapshotFormatError, message);
        assert.ok(error.message.startsWith(message), `${error.message} should start with ${message}`);
        assert.ok(!error.message.includes('\n'));
        assert.equal(error.path, 'snap.json');
        return true;
      },
    );
  }
});

test('a process is read in full once; later snapshots check only its start time', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'netmeter-proc-'));
  try {
    const write = (name: string, startTime: number) => {
      mkdirSync(path.join(root, '42'), { recursive: true });
      writeFileSync(path.join(root, '42', 'comm'), `${name}\n`);
      writeFileSync(path.join(root, '42', 'cmdline'), `${name}\0--flag\0`);
      writeFileSync(path.join(root, '42', 'status'), 'Name:\tx\nUid:\t0\t0\t0\t0\n');
      // Field 22 is the start time; fields 3-21 are filler.
      writeFileSync(path.join(root, '42', 'stat'), `42 (${name}) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${startTime} 0 0\n`);
    };
    const procFs = new ProcFs(root, '/dev/null');
    const known = new ProcessCache();
    write('first', 1000);
    assert.equal((await known.read(procFs, 42))?.name, 'first');
    write('renamed', 1000); // same process: not read again
    assert.equal((await known.read(procFs, 42))?.name, 'first');
    write('other', 2000); // the pid now belongs to another process
    const other = await known.read(procFs, 42);
    assert.deepEqual([other?.name, other?.cmdline, other?.startTime], ['other', 'other --flag', 2000]);
    known.keepOnly(new Set());
    write('after', 2000);
    assert.equal((await known.read(procFs, 42))?.name, 'after', 'forgotten, so read in full');
    rmSync(path.join(root, '42'), { recursive: true });
    assert.equal(await known.read(procFs, 42), undefined, 'gone');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a reader walks the fds only for a new inode, the end of an owner, or an old walk; else it answers "unchanged"', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'netmeter-proc-'));
  try {
    cpSync(HOST_SAMPLE, root, { recursive: true, verbatimSymlinks: true });
    const tcpTable = path.join(root, 'net', 'tcp');
    const tableBefore = readFileSync(tcpTable, 'utf8');
    let held = await walkSocketOwnersJs(root);
    let walks = 0;
    const walk = async () => {
      walks++;
      return new Map(held);
    };
    let now = 1_700_000_000_000;
    const reader = new SnapshotReader(new ProcFs(root, undefined, 'LE'), walk, () => now);
    const owners = (s: SocketSnapshot | undefined) => new Map(s?.owners);

    const first = await reader.read([]);
    assert.equal(walks, 1);
    assert.deepEqual(owners(first).get(6075), [4429]);
    assert.equal(await reader.read([]), undefined, 'nothing changed');
    assert.equal(await reader.read([12345]), undefined, 'a process that held no socket ended');
    assert.equal(walks, 1, 'neither read walked');

    // A connection no walk has seen: its owner is looked for.
    appendFileSync(tcpTable, '   6: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000 65534        0 7777 1 0000000000000000 20 4 30 10 -1\n');
    held.set(7777, [4440]);
    const withNew = await reader.read([]);
    assert.equal(walks, 2);
    assert.deepEqual(owners(withNew).get(7777), [4440]);

    // 4429 ended, its sockets left to the child it shared them with.
    held = new Map([...held].map(([inode, pids]) => [inode, pids.filter((pid) => pid !== 4429)] as [number, number[]]).filter(([, pids]) => pids.length > 0));
    const afterEnd = await reader.read([4429]);
    assert.equal(walks, 3, 'the end of an owner is a reason to walk');
    assert.deepEqual(owners(afterEnd).get(6074), [4440]);
    assert.ok(!afterEnd!.processes.some((p) => p.pid === 4429));

    assert.equal(await reader.read(undefined), undefined, 'ends not known: walked, found the same');
    assert.equal(walks, 4);

    // A socket that closed leaves the snapshot, with no walk.
    writeFileSync(tcpTable, tableBefore);
    const afterClose = await reader.read([]);
    assert.equal(walks, 4);
    assert.ok(afterClose !== undefined, 'a socket closed: that is a change');
    assert.ok(!afterClose.sockets.some((s) => s.inode === 7777));
    assert.equal(owners(afterClose).get(7777), undefined);
    assert.equal(await reader.read([]), undefined);

    now += WALK_AT_LEAST_EVERY_MS;
    await reader.read([]);
    assert.equal(walks, 5, 'the last walk is too old');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a reader walks again while an ended owner is still listed (the kernel reports an end before the fds close)", async () => {
  const held = new Map([[6075, [4429]]]);
  let walks = 0;
  const reader = new SnapshotReader(
    new ProcFs(HOST_SAMPLE, undefined, 'LE'),
    async () => (walks++, new Map(held)),
    () => 0,
  );
  await reader.read([]);
  await reader.read([4429]);
  assert.equal(walks, 2);
  held.delete(6075); // its fds closed now
  const after = await reader.read([]);
  assert.equal(walks, 3, 'still listed after the first walk: walked again');
  assert.equal(new Map(after?.owners).get(6075), undefined);
  await reader.read([]);
  assert.equal(walks, 3, 'no longer listed: no more walks');
});

test("a reader asked for TCP listeners takes them from sock_diag, keeps the last read's connections, and reads the tables every 10 s", async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'netmeter-proc-'));
  try {
    cpSync(HOST_SAMPLE, root, { recursive: true, verbatimSymlinks: true });
    const tcpTable = path.join(root, 'net', 'tcp');
    const listener = (port: number, inode: number): SocketEntry => ({ protocol: 'tcp', localAddress: '0.0.0.0', localPort: port, remoteAddress: '0.0.0.0', remotePort: 0, inode, uid: 0, state: 10 });
    let listeners: SocketEntry[] | undefined = [];
    class FakeDiag extends ProcFs {
      override readTcpListeners(): SocketEntry[] | undefined {
        return listeners;
      }
    }
    let now = 1_700_000_000_000;
    const held = await walkSocketOwnersJs(root);
    const reader = new SnapshotReader(new FakeDiag(root, undefined, 'LE'), async () => new Map(held), () => now);
    const first = await reader.read([], 'listeners');
    const tcpOf = (s: SocketSnapshot | undefined) => s?.sockets.filter((x) => x.protocol === 'tcp').map((x) => x.inode).sort((a, b) => a - b);
    const connected = first!.sockets.filter((s) => s.protocol === 'tcp' && s.state !== 10).map((s) => s.inode);
    assert.ok(connected.length > 0, 'the first read reads the tables');

    // A listener sock_diag reports is taken, with its owner; a new connection in the table is not read.
    listeners = [listener(8080, 9999)];
    held.set(9999, [4429]);
    appendFileSync(tcpTable, '   6: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000 65534        0 7777 1 0000000000000000 20 4 30 10 -1\n');
    held.set(7777, [4440]);
    const second = await reader.read([], 'listeners');
    assert.deepEqual(tcpOf(second), [...connected, 9999].sort((a, b) => a - b), "the kernel's listeners and the last read's connections");
    assert.deepEqual(new Map(second?.owners).get(9999), [4429]);

    // sock_diag cannot answer: the tables are read.
    listeners = undefined;
    assert.ok(tcpOf(await reader.read([], 'listeners'))?.includes(7777));

    // Ten seconds after the tables were last read, they are read whatever is asked.
    listeners = [];
    writeFileSync(tcpTable, readFileSync(tcpTable, 'utf8').replace(/^.* 7777 .*\n/m, ''));
    assert.ok(tcpOf(await reader.read([], 'listeners'))?.includes(7777), 'kept from the last read of the tables');
    now += WALK_AT_LEAST_EVERY_MS;
    assert.ok(!tcpOf(await reader.read([], 'listeners'))?.includes(7777), 'closed, and the tables read again');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
