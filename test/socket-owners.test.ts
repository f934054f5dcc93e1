// Tests for src/attribute/socket-owners.ts: both walks, over a fake proc tree and the real /proc.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  nativeAddonAvailable,
  nativeAddonError,
  walkSocketOwners,
  walkSocketOwnersJs,
  walkSocketOwnersNative,
  type SocketOwners,
} from '../src/attribute/socket-owners.js';

// CI always builds the addon, so the native walk is tested as a requirement, never skipped:
// a missing addon fails these tests with the reason it did not load.
const walks: Array<[name: string, walk: (root: string) => Promise<SocketOwners>]> = [
  ['js', walkSocketOwnersJs],
  ['native', walkSocketOwnersNative],
];

/** A proc tree with the cases a real one has: sockets shared and dup'd, other links, oddities. */
async function makeFakeProc(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'netmeter-proc-'));
  const links: Record<string, Record<string, string>> = {
    '100': {
      '0': '/dev/null',
      '3': 'socket:[111]',
      '4': 'socket:[222]',
      '5': 'socket:[111]', // dup of fd 3: still one owner entry
      '6': 'pipe:[333]',
      '7': 'anon_inode:[eventpoll]',
    },
    '200': { '3': 'socket:[222]', '4': 'socket:[4294967296]', '9': 'socket:[12x]' },
    // Sorts after 100 and 200 as text, before them as a number: pids must come out numeric.
    '9': { '1': 'socket:[222]', '2': 'socket:[]', '3': 'socket:[333]extra' },
  };
  for (const [pid, fds] of Object.entries(links)) {
    await mkdir(join(root, pid, 'fd'), { recursive: true });
    for (const [fd, target] of Object.entries(fds)) await symlink(target, join(root, pid, 'fd', fd));
  }
  // A regular file among the links, as a snapshot tool might leave: not a socket.
  await writeFile(join(root, '200', 'fd', '10'), 'socket:[999]');
  await mkdir(join(root, '300')); // a pid without an fd dir (a zombie, or not ours to read)
  await writeFile(join(root, '400'), ''); // numeric, but not a directory
  await mkdir(join(root, 'net', 'fd'), { recursive: true }); // non-numeric dirs are not pids
  await symlink('socket:[555]', join(root, 'net', 'fd', '3'));
  await mkdir(join(root, '12abc', 'fd'), { recursive: true });
  await symlink('socket:[666]', join(root, '12abc', 'fd', '3'));
  await symlink('100', join(root, 'self')); // like /proc/self: a link, and not a pid name
  return root;
}

const expectedFake: SocketOwners = new Map([
  [111, [100]],
  [222, [9, 100, 200]],
  [4294967296, [200]],
]);

for (const [name, walk] of walks) {
  test(`${name} walk maps a fake proc tree's socket links to their pids`, async () => {
    const root = await makeFakeProc();
    try {
      assert.deepEqual(sorted(await walk(root)), sorted(expectedFake));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test(`${name} walk rejects with the path when the proc root cannot be opened`, async () => {
    const missing = join(tmpdir(), 'netmeter-no-such-proc');
    await assert.rejects(walk(missing), (error: NodeJS.ErrnoException) => {
      assert.match(error.message, /netmeter-no-such-proc/);
      assert.equal(error.code, 'ENOENT');
      return true;
    });
  });

  test(`${name} walk finds this process's listening TCP socket in the real /proc`, async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const inode = await listeningInode(port);
      const owners = await walk('/proc');
      assert.deepEqual(owners.get(inode), [process.pid]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
}

test('the addon is built and walkSocketOwners uses it', async () => {
  assert.equal(nativeAddonAvailable(), true, `addon did not load: ${nativeAddonError()?.message}`);
  const root = await makeFakeProc();
  try {
    assert.deepEqual(sorted(await walkSocketOwners(root)), sorted(expectedFake));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/** The inode of the socket listening on 127.0.0.1:port, from /proc/self/net/tcp. */
async function listeningInode(port: number): Promise<number> {
  const rows = (await readFile('/proc/self/net/tcp', 'utf8')).trim().split('\n').slice(1);
  for (const row of rows) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const columns = row.trim().split(/\s+/);
    const localPort = parseInt(columns[1]!.split(':')[1]!, 16);
    if (localPort === port && columns[3] === '0A') return Number(columns[9]);
  }
  throw new Error(`no listening socket on port ${port} in /proc/self/net/tcp`);
}

// Map equality in deepEqual ignores insertion order already; sorting makes a failure's diff readable.
function sorted(owners: SocketOwners): Array<[number, number[]]> {
  return [...owners].sort((a, b) => a[0] - b[0]);
}
