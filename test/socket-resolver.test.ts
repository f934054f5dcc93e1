import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { type Cidr, parseCidr } from '../src/decode/address.js';
import { ProcFs } from '../src/attribute/proc/proc-fs.js';
import { takeSocketSnapshot } from '../src/attribute/socket-snapshot.js';
import { SocketResolver } from '../src/attribute/socket-resolver.js';
import type { ProcessInfo, SocketEntry, SocketSnapshot } from '../src/attribute/types.js';

const HOST_SAMPLE = fileURLToPath(new URL('../../fixtures/proc/host-sample', import.meta.url));
const SERVER = 4418; // node, root: the listeners, accepted sockets and bound UDP sockets
const CLIENT = 4429; // node, nobody: the connecting end, shares one TCP socket with...
const SLEEP = 4440; // sleep, nobody

async function hostSample(): Promise<SocketResolver> {
  return new SocketResolver(await takeSocketSnapshot(new ProcFs(HOST_SAMPLE, undefined, 'LE'), undefined, () => 0));
}

function pidOf(info: ProcessInfo | undefined): number | undefined {
  return info?.pid;
}

test('fixture: TCP by exact 4-tuple, each end of a loopback connection its own socket', async () => {
  const r = await hostSample();
  assert.equal(pidOf(r.resolve('tcp', '127.0.0.1', 51278, '127.0.0.1', 47011)), CLIENT);
  assert.equal(pidOf(r.resolve('tcp', '127.0.0.1', 47011, '127.0.0.1', 51278)), SERVER, 'the accepted socket');
  assert.equal(pidOf(r.resolve('tcp', '::1', 48044, '::1', 47012)), CLIENT);
  assert.equal(pidOf(r.resolve('tcp', '::1', 47012, '::1', 48044)), SERVER);
  assert.equal(r.resolve('tcp', '127.0.0.1', 51278, '127.0.0.1', 47012), undefined, 'another remote port');
});

test('fixture: the lowest pid owns a socket shared with a child', async () => {
  const r = await hostSample();
  const owner = r.resolve('tcp', '127.0.0.1', 51278, '127.0.0.1', 47011)!;
  assert.equal(owner.pid, CLIENT);
  assert.notEqual(owner.pid, SLEEP);
  assert.equal(owner.user, 'nobody');
  assert.equal(owner.cmdline, '/usr/bin/node /work/main/fixtures/proc/make-host-sample.mjs --client');
});

test('fixture: an IPv4 connection accepted by a dual-stack listener is a v4-mapped socket', async () => {
  const r = await hostSample();
  // tcp6 lists it as ::ffff:127.0.0.1:47013 <-> ::ffff:127.0.0.1:47728; packets carry plain IPv4.
  assert.equal(pidOf(r.resolve('tcp', '127.0.0.1', 47013, '127.0.0.1', 47728)), SERVER);
  assert.equal(pidOf(r.resolve('tcp', '::ffff:127.0.0.1', 47013, '::ffff:127.0.0.1', 47728)), SERVER);
  assert.equal(pidOf(r.resolve('tcp', '127.0.0.1', 47728, '127.0.0.1', 47013)), CLIENT);
});

test('fixture: a connection no table row names goes to the process listening on its port', async () => {
  const r = await hostSample();
  // Accepted and closed between two reads of /proc: only the listener was seen.
  assert.equal(pidOf(r.resolve('tcp', '127.0.0.1', 47011, '127.0.0.1', 40000)), SERVER, 'listener on 127.0.0.1:47011');
  assert.equal(pidOf(r.resolve('tcp', '::1', 47013, '::1', 40000)), SERVER, "listener on '::'");
  assert.equal(pidOf(r.resolve('tcp', '127.0.0.1', 47013, '127.0.0.1', 40000)), SERVER, "'::' listener is dual-stack");
  assert.equal(r.resolve('tcp', '198.18.0.9', 47011, '127.0.0.1', 40000), undefined, 'listener bound to another address');
  assert.equal(r.resolve('tcp', '192.0.2.2', 39616, '203.0.113.80', 80), undefined, 'TIME_WAIT, inode 0');
});

test('fixture: UDP connected 4-tuple, then bound address, then wildcard', async () => {
  const r = await hostSample();
  assert.equal(pidOf(r.resolve('udp', '127.0.0.1', 46554, '127.0.0.1', 47021)), CLIENT, 'connected');
  assert.equal(pidOf(r.resolve('udp', '127.0.0.1', 47021, '127.0.0.1', 46554)), SERVER, 'bound 127.0.0.1:47021');
  assert.equal(pidOf(r.resolve('udp', '192.0.2.2', 47022, '198.18.0.9', 53)), SERVER, 'wildcard 0.0.0.0:47022');
  // 127.0.0.1:47025 is bound by the server, 0.0.0.0:47025 by the client.
  assert.equal(pidOf(r.resolve('udp', '127.0.0.1', 47025, '127.0.0.1', 5000)), SERVER, 'bound beats wildcard');
  assert.equal(pidOf(r.resolve('udp', '192.0.2.2', 47025, '198.18.0.9', 5000)), CLIENT, 'wildcard for other addresses');
  assert.equal(r.resolve('udp', '127.0.0.1', 47999, '127.0.0.1', 5000), undefined, 'no socket on the port');
});

test("fixture: a '::' UDP socket takes IPv6 and, as a last resort, IPv4", async () => {
  const r = await hostSample();
  assert.equal(pidOf(r.resolve('udp', '::1', 47023, '::1', 5000)), SERVER);
  assert.equal(pidOf(r.resolve('udp', '127.0.0.1', 47023, '127.0.0.1', 5000)), SERVER);
  assert.equal(r.resolve('udp', '::1', 47022, '::1', 5000), undefined, '0.0.0.0 takes no IPv6');
});

test('fixture: local addresses are the interfaces and the sockets, never wildcards', async () => {
  const r = await hostSample();
  for (const address of ['127.0.0.1', '192.0.2.2', 'fd00::2', '::1', 'fe80::fc:ff:fe00:1', '::ffff:192.0.2.2']) {
    assert.equal(r.isLocal(address), true, address);
  }
  for (const address of ['203.0.113.80', '0.0.0.0', '::', '198.18.0.1', 'fd00::3']) {
    assert.equal(r.isLocal(address), false, address);
  }
});

// Hand-made snapshots for the rules the fixture host does not show.
function socket(protocol: 'tcp' | 'udp', local: string, remote: string, inode: number, state = 1): SocketEntry {
  const split = (endpoint: string): [string, number] => {
    const at = endpoint.lastIndexOf(':');
    return [endpoint.slice(0, at).replace(/^\[|\]$/g, ''), Number(endpoint.slice(at + 1))];
  };
  const [localAddress, localPort] = split(local);
  const [remoteAddress, remotePort] = split(remote);
  return { protocol, localAddress, localPort, remoteAddress, remotePort, inode, uid: 0, state };
}

function proc(pid: number): ProcessInfo {
  return { pid, name: `p${pid}`, cmdline: `p${pid}`, user: null, uid: null };
}

function snapshot(sockets: SocketEntry[], owners: Array<[number, number[]]>, pids: number[], localAddresses: string[] = []): SocketSnapshot {
  return { version: 1, takenAt: 0, localAddresses, sockets, owners, processes: pids.map(proc) };
}

test('several holders: the lowest pid, in whatever order owners lists them', () => {
  const r = new SocketResolver(
    snapshot([socket('tcp', '198.18.0.1:443', '198.18.0.2:50000', 10)], [[10, [300, 200, 250]]], [200, 250, 300]),
  );
  assert.equal(pidOf(r.resolve('tcp', '198.18.0.1', 443, '198.18.0.2', 50000)), 200);
});

test('a vanished holder passes the socket to the next pid; with none left the socket is unowned', () => {
  const r = new SocketResolver(
    snapshot(
      [
        socket('tcp', '198.18.0.1:443', '198.18.0.2:50000', 10),
        socket('udp', '198.18.0.1:53', '0.0.0.0:0', 11, 7),
        socket('udp', '0.0.0.0:53', '0.0.0.0:0', 12, 7),
      ],
      [
        [10, [100, 200]],
        [11, [100]],
        [12, [300]],
      ],
      [200, 300],
    ),
  );
  assert.equal(pidOf(r.resolve('tcp', '198.18.0.1', 443, '198.18.0.2', 50000)), 200);
  // The kernel delivers to the bound socket; its holder is gone, so the wildcard's owner must
  // not take the packet.
  assert.equal(r.resolve('udp', '198.18.0.1', 53, '198.18.0.9', 4000), undefined);
  assert.equal(pidOf(r.resolve('udp', '198.18.0.3', 53, '198.18.0.9', 4000)), 300);
});

test('a TCP connection whose holder was gone by the walk goes to the listener on its port', () => {
  // Accepted and closed between the table read and the fd walk: in the table, owned by no one.
  const r = new SocketResolver(
    snapshot(
      [socket('tcp', '0.0.0.0:8080', '0.0.0.0:0', 20, 10), socket('tcp', '198.18.0.1:8080', '198.18.0.2:50000', 21)],
      [[20, [400]]],
      [400],
    ),
  );
  assert.equal(pidOf(r.resolve('tcp', '198.18.0.1', 8080, '198.18.0.2', 50000)), 400);
  assert.equal(r.tcpConnectionOwner('198.18.0.1', 8080, '198.18.0.2', 50000), undefined, 'not its own owner');
});

test('UDP wildcards: 0.0.0.0 before a dual-stack ::, which alone serves IPv6', () => {
  const r = new SocketResolver(
    snapshot(
      [socket('udp', '0.0.0.0:5353', '0.0.0.0:0', 1, 7), socket('udp', '[::]:5353', '[::]:0', 2, 7)],
      [
        [1, [40]],
        [2, [50]],
      ],
      [40, 50],
    ),
  );
  assert.equal(pidOf(r.resolve('udp', '198.18.0.1', 5353, '198.18.0.7', 5353)), 40);
  assert.equal(pidOf(r.resolve('udp', 'fd00::1', 5353, 'fd00::7', 5353)), 50);
});

test('a UDP socket bound to a v4-mapped address takes IPv4 before any wildcard', () => {
  const r = new SocketResolver(
    snapshot(
      [
        socket('udp', '0.0.0.0:53', '0.0.0.0:0', 1, 7),
        socket('udp', '[::ffff:198.18.0.5]:53', '[::]:0', 2, 7),
        socket('udp', '[::ffff:198.18.0.5]:4000', '[::ffff:198.18.0.9]:53', 3),
      ],
      [
        [1, [10]],
        [2, [20]],
        [3, [30]],
      ],
      [10, 20, 30],
    ),
  );
  assert.equal(pidOf(r.resolve('udp', '198.18.0.5', 53, '198.18.0.9', 4000)), 20);
  assert.equal(pidOf(r.resolve('udp', '198.18.0.6', 53, '198.18.0.9', 4000)), 10);
  assert.equal(pidOf(r.resolve('udp', '198.18.0.5', 4000, '198.18.0.9', 53)), 30, 'connected v4-mapped');
  assert.equal(r.resolve('udp', '198.18.0.5', 4000, '198.18.0.9', 54), undefined, 'connected takes only its peer');
});

test('sockets sharing a key (SO_REUSEPORT) go to the lowest owning pid', () => {
  const r = new SocketResolver(
    snapshot(
      [socket('udp', '0.0.0.0:443', '0.0.0.0:0', 1, 7), socket('udp', '0.0.0.0:443', '0.0.0.0:0', 2, 7), socket('udp', '0.0.0.0:443', '0.0.0.0:0', 3, 7)],
      [
        [1, [90]],
        [2, [70]],
      ],
      [70, 90],
    ),
  );
  assert.equal(pidOf(r.resolve('udp', '198.18.0.1', 443, '198.18.0.2', 1234)), 70);
});

test('update swaps the snapshot and keeps the local networks', () => {
  const localCidrs = ['198.18.0.0/15', 'fd00::/8'].map((c) => parseCidr(c)!) satisfies Cidr[];
  const r = new SocketResolver(
    snapshot([socket('tcp', '10.0.0.1:22', '10.0.0.2:5000', 1)], [[1, [5]]], [5], ['10.0.0.1']),
    { localCidrs },
  );
  assert.equal(pidOf(r.resolve('tcp', '10.0.0.1', 22, '10.0.0.2', 5000)), 5);
  assert.equal(r.isLocal('10.0.0.1'), true);
  r.update(snapshot([socket('tcp', '10.0.0.3:22', '10.0.0.2:5001', 2)], [[2, [6]]], [6]));
  assert.equal(r.resolve('tcp', '10.0.0.1', 22, '10.0.0.2', 5000), undefined);
  assert.equal(pidOf(r.resolve('tcp', '10.0.0.3', 22, '10.0.0.2', 5001)), 6);
  assert.equal(r.isLocal('10.0.0.1'), false, 'the old snapshot’s address is gone');
  assert.equal(r.isLocal('10.0.0.3'), true, 'a socket’s local address counts');
  assert.equal(r.isLocal('198.19.255.254'), true);
  assert.equal(r.isLocal('::ffff:198.18.0.1'), true);
  assert.equal(r.isLocal('fdff::1'), true);
  assert.equal(r.isLocal('198.20.0.1'), false);
  assert.equal(r.isLocal('fe80::1'), false);
});
