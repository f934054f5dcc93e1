import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseNetSockets, ProcParseError } from '../src/attribute/proc/net-sockets.js';

const net = (name: string) => readFileSync(new URL(`../../fixtures/proc/host-sample/net/${name}`, import.meta.url), 'utf8');

test('reads the IPv4 TCP table of the fixture host, listeners, connections and TIME_WAIT', () => {
  const rows = parseNetSockets(net('tcp'), 'tcp', 'host-sample/net/tcp', 'LE');
  assert.equal(rows.length, 6);
  assert.deepEqual(rows[1], {
    protocol: 'tcp',
    localAddress: '127.0.0.1',
    localPort: 47011,
    remoteAddress: '0.0.0.0',
    remotePort: 0,
    inode: 6518,
    uid: 0,
    state: 10,
  });
  assert.deepEqual(rows[2], {
    protocol: 'tcp',
    localAddress: '127.0.0.1',
    localPort: 51278,
    remoteAddress: '127.0.0.1',
    remotePort: 47011,
    inode: 6074,
    uid: 65534,
    state: 1,
  });
  const timeWait = rows[5]!;
  assert.equal(timeWait.localAddress, '192.0.2.2');
  assert.equal(timeWait.remoteAddress, '203.0.113.80');
  assert.equal(timeWait.remotePort, 80);
  assert.equal(timeWait.state, 6);
  assert.equal(timeWait.inode, 0);
});

test('reads IPv6 words in host order, including v4-mapped addresses and the wildcard', () => {
  const rows = parseNetSockets(net('tcp6'), 'tcp', 'host-sample/net/tcp6', 'LE');
  assert.equal(rows.length, 5);
  assert.deepEqual(
    rows.map((r) => `[${r.localAddress}]:${r.localPort} > [${r.remoteAddress}]:${r.remotePort} #${r.inode}`),
    [
      '[::1]:47012 > [::]:0 #6519',
      '[::]:47013 > [::]:0 #6520',
      '[::ffff:127.0.0.1]:47013 > [::ffff:127.0.0.1]:47728 #6531',
      '[::1]:47012 > [::1]:48044 #6530',
      '[::1]:48044 > [::1]:47012 #6075',
    ],
  );
});

test('reads UDP tables, whose rows carry extra columns and unconnected state 7', () => {
  const udp = parseNetSockets(net('udp'), 'udp', 'host-sample/net/udp', 'LE');
  assert.deepEqual(
    udp.map((r) => [r.protocol, r.localAddress, r.localPort, r.remoteAddress, r.remotePort, r.state, r.inode]),
    [
      ['udp', '127.0.0.1', 46554, '127.0.0.1', 47021, 1, 6077],
      ['udp', '127.0.0.1', 47021, '0.0.0.0', 0, 7, 6521],
      ['udp', '0.0.0.0', 47022, '0.0.0.0', 0, 7, 6522],
      ['udp', '0.0.0.0', 47025, '0.0.0.0', 0, 7, 6078],
      ['udp', '127.0.0.1', 47025, '0.0.0.0', 0, 7, 6524],
    ],
  );
  const udp6 = parseNetSockets(net('udp6'), 'udp', 'host-sample/net/udp6', 'LE');
  assert.deepEqual(udp6.map((r) => [r.localAddress, r.localPort, r.inode]), [['::', 47023, 6523]]);
});

test('a big-endian host writes the words the other way round', () => {
  const text = '   0: 7F000001:0050 C0000201:D431 01 00000000:00000000 00:00000000 00000000  1000 0 42 1\n';
  const [row] = parseNetSockets(text, 'tcp', 'be/tcp', 'BE');
  assert.equal(row!.localAddress, '127.0.0.1');
  assert.equal(row!.localPort, 80);
  assert.equal(row!.remoteAddress, '192.0.2.1');
  assert.equal(row!.remotePort, 54321);
  assert.equal(row!.uid, 1000);
  const [v6] = parseNetSockets(
    '0: 20010DB8000000000000000000000001:0035 00000000000000000000000000000000:0000 07 0:0 0:0 0 0 0 7 2\n',
    'udp',
    'be/udp6',
    'BE',
  );
  assert.equal(v6!.localAddress, '2001:db8::1');
});

test('the header is skipped only when present, and empty text is an empty table', () => {
  assert.deepEqual(parseNetSockets('', 'udp', '/proc/net/udp6'), []);
  const header = net('tcp').split('\n')[0]!;
  assert.deepEqual(parseNetSockets(`${header}\n`, 'tcp', '/proc/net/tcp'), []);
  const row = '   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1\n';
  assert.equal(parseNetSockets(row, 'tcp', '/proc/net/tcp', 'LE')[0]!.inode, 99);
});

test('a malformed line is a ProcParseError naming the file, the line and the fault', () => {
  const lines = net('tcp').split('\n');
  lines[6] = '   5: 020200C0:9AC0 NOTHEX:0050 06 00000000:00000000 03:0000120C 00000000 0 0 0 3';
  assert.throws(
    () => parseNetSockets(lines.join('\n'), 'tcp', '/proc/net/tcp', 'LE'),
    (error: unknown) => {
      assert.ok(error instanceof ProcParseError);
      assert.equal(error.message, "/proc/net/tcp line 7: bad address 'NOTHEX:0050'");
      assert.equal(error.file, '/proc/net/tcp');
      assert.equal(error.line, 7);
      return true;
    },
  );
  const bad = (row: string) => () => parseNetSockets(`sl header\n${row}`, 'udp', '/proc/net/udp', 'LE');
  assert.throws(bad('0: 0100007F:0050 00000000:0000 07'), /^ProcParseError: \/proc\/net\/udp line 2: expected at least 10 fields, found 4$/);
  assert.throws(bad('0: 0100007F:0050 00000000:0000 07 0:0 0:0 0 0 0 12x 2'), /line 2: bad inode '12x'/);
  assert.throws(bad('0: 0100007F:0050 00000000:0000 Z7 0:0 0:0 0 0 0 12 2'), /line 2: bad state 'Z7'/);
  assert.throws(bad('0: 0100007F:0050 00000000:0000 07 0:0 0:0 0 -1 0 12 2'), /line 2: bad uid '-1'/);
  assert.throws(
    bad('0: 0100007F:0050 00000000000000000000000000000000:0000 07 0:0 0:0 0 0 0 12 2'),
    /line 2: local '0100007F:0050' and remote '0{32}:0000' are of different families/,
  );
});
