import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFibTrieLocal, parseIfInet6, ProcFs } from '../src/attribute/proc/proc-fs.js';
import { ProcParseError } from '../src/attribute/proc/net-sockets.js';

const HOST_SAMPLE = fileURLToPath(new URL('../../fixtures/proc/host-sample', import.meta.url));

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netmeter-procfs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('reads all four socket tables of a snapshot directory, tcp first', async () => {
  const sockets = await new ProcFs(HOST_SAMPLE, undefined, 'LE').readSocketTables();
  assert.equal(sockets.length, 6 + 5 + 5 + 1);
  assert.deepEqual(
    sockets.map((s) => `${s.protocol}:${s.inode}`).filter((s) => !s.endsWith(':0')),
    [
      'tcp:1065', 'tcp:6518', 'tcp:6074', 'tcp:6529', 'tcp:6076',
      'tcp:6519', 'tcp:6520', 'tcp:6531', 'tcp:6530', 'tcp:6075',
      'udp:6077', 'udp:6521', 'udp:6522', 'udp:6078', 'udp:6524',
      'udp:6523',
    ],
  );
});

test('a missing table is empty, as on a host without IPv6', async (t) => {
  const root = await tempDir(t);
  await mkdir(join(root, 'net'));
  await writeFile(
    join(root, 'net', 'udp'),
    '  sl  local_address rem_address   st\n 1: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 31 2\n',
  );
  const sockets = await new ProcFs(root, undefined, 'LE').readSocketTables();
  assert.deepEqual(sockets, [
    { protocol: 'udp', localAddress: '127.0.0.1', localPort: 53, remoteAddress: '0.0.0.0', remotePort: 0, inode: 31, uid: 0, state: 7 },
  ]);
});

test('a damaged table rejects with the ProcParseError of its file', async (t) => {
  const root = await tempDir(t);
  await mkdir(join(root, 'net'));
  await writeFile(join(root, 'net', 'tcp6'), 'sl header\n 0: 0100:0050 0000:0000 0A 0:0 0:0 0 0 0 1 1\n');
  await assert.rejects(new ProcFs(root).readSocketTables(), (error: unknown) => {
    assert.ok(error instanceof ProcParseError);
    assert.equal(error.message, `${join(root, 'net', 'tcp6')} line 2: bad address '0100:0050'`);
    return true;
  });
});

test('reads a process: name, command line, user through ROOT/passwd, start time', async () => {
  const procFs = new ProcFs(HOST_SAMPLE);
  assert.deepEqual(await procFs.readProcess(4429), {
    pid: 4429,
    name: 'node',
    cmdline: '/usr/bin/node /work/main/fixtures/proc/make-host-sample.mjs --client',
    user: 'nobody',
    uid: 65534,
    startTime: 36284,
  });
  assert.deepEqual(await procFs.readProcess(4418), {
    pid: 4418,
    name: 'node',
    cmdline: 'node fixtures/proc/make-host-sample.mjs',
    user: 'root',
    uid: 0,
    startTime: 36275,
  });
});

test('a process that is gone reads as undefined, not an error', async (t) => {
  assert.equal(await new ProcFs(HOST_SAMPLE).readProcess(99999), undefined);
  // Gone half way: the directory is still there but its files are not.
  const root = await tempDir(t);
  await mkdir(join(root, '7'));
  await writeFile(join(root, '7', 'comm'), 'x\n');
  assert.equal(await new ProcFs(root).readProcess(7), undefined);
});

test('user names come from the passwd in or beside the snapshot, or the one given', async (t) => {
  const base = await tempDir(t);
  const root = join(base, 'proc');
  await mkdir(join(root, '5'), { recursive: true });
  await writeFile(join(root, '5', 'comm'), 'daemon\n');
  await writeFile(join(root, '5', 'cmdline'), '/usr/sbin/daemon\0');
  await writeFile(join(root, '5', 'status'), 'Name:\tdaemon\nUid:\t4242\t4242\t4242\t4242\n');
  await writeFile(join(root, '5', 'stat'), '5 (daemon) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n');
  // No passwd beside the snapshot: /etc/passwd has no uid 4242.
  assert.equal((await new ProcFs(root).readProcess(5))!.user, null);
  await writeFile(join(base, 'passwd'), 'svc:x:4242:4242::/:/bin/false\n');
  assert.equal((await new ProcFs(root).readProcess(5))!.user, 'svc');
  await writeFile(join(root, 'passwd'), 'inside:x:4242:4242::/:/bin/false\n');
  assert.equal((await new ProcFs(root).readProcess(5))!.user, 'inside', 'ROOT/passwd comes first');
  const given = join(base, 'other-passwd');
  await writeFile(given, 'given:x:4242:4242::/:/bin/false\n');
  const info = await new ProcFs(root, given).readProcess(5);
  assert.deepEqual(info, { pid: 5, name: 'daemon', cmdline: '/usr/sbin/daemon', user: 'given', uid: 4242, startTime: 12345 });
});

test('local addresses of a snapshot: fib_trie /32 host LOCAL, then if_inet6', async () => {
  assert.deepEqual(await new ProcFs(HOST_SAMPLE).localAddresses(), [
    '127.0.0.1',
    '192.0.2.2',
    'fd00::2',
    '::1',
    'fe80::fc:ff:fe00:1',
  ]);
});

test('a snapshot without address files has none; it never borrows this host\'s', async (t) => {
  const root = await tempDir(t);
  assert.deepEqual(await new ProcFs(root).localAddresses(), []);
});

test('if_inet6 rows are network-order hex; a bad row names its line', () => {
  assert.deepEqual(parseIfInet6('20010db8000000000000000000000001 02 40 00 80 eth0\n', 'x/if_inet6'), ['2001:db8::1']);
  assert.throws(() => parseIfInet6('fd00::1 02 40 00 80 eth0\n', 'x/if_inet6'), /^ProcParseError: x\/if_inet6 line 1: bad address 'fd00::1'$/);
});

test('fib_trie leaves count only with a /32 host LOCAL route', () => {
  const text = [
    'Local:',
    '  +-- 0.0.0.0/0 3 0 5',
    '     +-- 10.0.0.0/8 2 0 2',
    '        |-- 10.1.2.3',
    '           /32 host LOCAL',
    '        |-- 10.255.255.255',
    '           /32 link BROADCAST',
    '     |-- 127.0.0.0',
    '        /8 host LOCAL',
    '     |-- 198.18.0.0',
    '        /15 link UNICAST',
    '        /32 host LOCAL',
    '',
  ].join('\n');
  assert.deepEqual(parseFibTrieLocal(text), ['10.1.2.3', '198.18.0.0']);
  assert.deepEqual(parseFibTrieLocal(`${text}Main:\n${text}`), ['10.1.2.3', '198.18.0.0'], 'each address once');
});

test('the live /proc reads too: this process, its tables, loopback among the addresses', async () => {
  const procFs = new ProcFs();
  const me = await procFs.readProcess(process.pid);
  assert.equal(me?.pid, process.pid);
  assert.equal(me?.name, basename(process.execPath).slice(0, 15), 'comm holds 15 characters at most');
  assert.ok(me?.cmdline.includes('proc-fs.test.js'));
  assert.equal(me?.uid, process.getuid!());
  assert.ok(typeof me?.startTime === 'number' && me.startTime > 0);
  assert.ok(Array.isArray(await procFs.readSocketTables()));
  assert.ok((await procFs.localAddresses()).includes('127.0.0.1'));
});

test('TCP listeners from sock_diag are the LISTEN rows of the live tables; a snapshot directory has none to give', async (t) => {
  const servers = await Promise.all(
    ['127.0.0.1', '::1'].map(
      (host) =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer().listen(0, host, () => resolve(server));
          server.once('error', reject);
        }),
    ),
  );
  t.after(() => servers.forEach((s) => s.close()));
  const procFs = new ProcFs();
  const fromKernel = procFs.readTcpListeners();
  assert.ok(fromKernel, 'the addon answers on the live /proc');
  const fromTables = (await procFs.readSocketTables(['tcp'])).filter((s) => s.state === 10);
  const byInode = (rows: typeof fromTables) => [...rows].sort((a, b) => a.inode - b.inode);
  assert.deepEqual(byInode(fromKernel), byInode(fromTables));
  for (const server of servers) {
    const { address, port } = server.address() as AddressInfo;
    assert.ok(fromKernel.some((s) => s.localAddress === address && s.localPort === port), `${address}:${port} listed`);
  }
  assert.equal(new ProcFs(HOST_SAMPLE, undefined, 'LE').readTcpListeners(), undefined);
});
