import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CapLiveSource } from '../src/capture/cap-source.js';
import { CaptureDeviceError } from '../src/capture/capture-interfaces.js';
import { NativeLiveSource, nativeCaptureAvailable, nativeCaptureError } from '../src/capture/native-source.js';
import { LinkType, type PacketBatch, type PacketSource } from '../src/capture/packet-batch.js';
import { hasCapturePrivilege, PrivilegeError } from '../src/capture/privilege.js';
import { runModuleAsNobody } from './support/run-unprivileged.js';

const privileged = hasCapturePrivilege();
const NEEDS_PRIVILEGE = 'needs CAP_NET_RAW: run as root';
const built = nativeCaptureAvailable();
const NOT_BUILT = `the native addon is not built (${nativeCaptureError()?.message.split('\n')[0]})`;
const nativeSourceUrl = new URL('../src/capture/native-source.js', import.meta.url).href;
const run = promisify(execFile);

interface Captured {
  bytes: Buffer;
  captured: number;
  wire: number;
  ts: number;
  iface: number;
  /** Packets the entry stands for (1 unless coalesced), and the time of its last. */
  packets: number;
  lastTs: number;
}

/** Consumes a source's batches in the background, copying each packet (entry) out. */
function collect(source: PacketSource): { packets: Captured[]; batches: number[]; done: Promise<void> } {
  const packets: Captured[] = [];
  const batches: number[] = [];
  const done = (async () => {
    for await (const b of source.batches() as AsyncIterable<PacketBatch>) {
      batches.push(b.count);
      for (let i = 0; i < b.count; i++) {
        const start = b.offset[i]!;
        packets.push({
          bytes: Buffer.from(b.data.subarray(start, start + b.capturedLength[i]!)),
          captured: b.capturedLength[i]!,
          wire: b.wireLength[i]!,
          ts: b.timestamp[i]!,
          iface: b.interfaceIndex[i]!,
          packets: b.packets?.[i] ?? 1,
          lastTs: b.lastTimestamp?.[i] ?? b.timestamp[i]!,
        });
      }
    }
  })();
  return { packets, batches, done };
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

async function udpReceiver(): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port };
}

async function sendAll(port: number, sizes: number[]): Promise<void> {
  const sender = createSocket('udp4');
  for (const [i, size] of sizes.entries()) {
    await new Promise<void>((resolve, reject) => sender.send(Buffer.alloc(size, i), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }
  sender.close();
}

function skipUnless(t: { skip(message: string): void }, needsPrivilege = true): boolean {
  if (!built) {
    t.skip(NOT_BUILT);
    return true;
  }
  if (needsPrivilege && !privileged) {
    t.skip(NEEDS_PRIVILEGE);
    return true;
  }
  return false;
}

/** A network namespace with a veth pair nmt0 (198.18.7.1) ↔ nmt1 (198.18.7.2), both up. */
async function withNamespace(t: { skip(message: string): void }, body: (namespace: string) => Promise<void>): Promise<void> {
  const namespace = `nm-native-test-${process.pid}`;
  try {
    await run('ip', ['netns', 'add', namespace]);
  } catch (error) {
    t.skip(`cannot create a network namespace (${(error as Error).message.split('\n')[0]})`);
    return;
  }
  try {
    const ip = (...args: string[]) => run('ip', ['-n', namespace, ...args]);
    await ip('link', 'add', 'nmt0', 'type', 'veth', 'peer', 'name', 'nmt1');
    await ip('addr', 'add', '198.18.7.1/24', 'dev', 'nmt0');
    await ip('addr', 'add', '198.18.7.2/24', 'dev', 'nmt1');
    await ip('link', 'set', 'nmt0', 'up');
    await ip('link', 'set', 'nmt1', 'up');
    await body(namespace);
  } finally {
    await run('ip', ['netns', 'del', namespace]).catch(() => undefined);
  }
}

/** Runs a module script inside the namespace, collecting its output. */
function spawnInNamespace(namespace: string, script: string): { child: ChildProcess; stdout: () => string; stderr: () => string; closed: Promise<unknown[]> } {
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return { child, stdout: () => stdout, stderr: () => stderr, closed: once(child, 'close') };
}

test('a device that does not exist throws CaptureDeviceError at once, in one line', { skip: !built && NOT_BUILT }, async () => {
  assert.throws(
    () => new NativeLiveSource({ devices: ['nm-no-such-if'] }),
    (error: unknown) => {
      assert.ok(error instanceof CaptureDeviceError);
      assert.equal(error.message, "no such interface 'nm-no-such-if' (see ip link)");
      return true;
    },
  );
  await assert.rejects(NativeLiveSource.open({ devices: ['lo', 'nm-no-such-if'] }), CaptureDeviceError);
  assert.throws(() => new NativeLiveSource({ devices: [] }), CaptureDeviceError);
});

test('a device libpcap cannot find rejects with CaptureDeviceError (the native check, past /sys)', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  // A /sys/class/net lookalike that lists the device, so only libpcap can say it is missing.
  const sysRoot = mkdtempSync(join(tmpdir(), 'nm-sys-'));
  try {
    mkdirSync(join(sysRoot, 'nm-ghost0'));
    writeFileSync(join(sysRoot, 'nm-ghost0', 'flags'), '0x1003\n');
    await assert.rejects(NativeLiveSource.open({ devices: ['nm-ghost0'], sysRoot }), (error: unknown) => {
      assert.ok(error instanceof CaptureDeviceError, String(error));
      assert.equal(error.message, "no such interface 'nm-ghost0' (see ip link)");
      return true;
    });
  } finally {
    rmSync(sysRoot, { recursive: true, force: true });
  }
});

test('captures exactly the UDP datagrams sent on lo, with wire lengths, kernel timestamps and stats', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  const { socket, port } = await udpReceiver();
  const source = await NativeLiveSource.open({ devices: ['lo'], filter: `udp port ${port}`, flushMs: 20 });
  assert.deepEqual(source.interfaces(), [{ name: 'lo', linkType: LinkType.ETHERNET }]);
  const { packets, done } = collect(source);

  const count = 500;
  const payloadSize = (i: number) => 1 + ((i * 37) % 1400);
  const before = Date.now() / 1000;
  await sendAll(port, Array.from({ length: count }, (_, i) => payloadSize(i)));
  await waitFor(() => packets.length >= count, 5000);
  const after = Date.now() / 1000;
  await source.close();
  await done;
  socket.close();

  assert.equal(packets.length, count);
  for (const [i, p] of packets.entries()) {
    // Ethernet 14 + IPv4 20 + UDP 8 on lo; the default snap length keeps 256 bytes.
    assert.equal(p.wire, payloadSize(i) + 42, `packet ${i} wire length`);
    assert.equal(p.captured, Math.min(p.wire, 256), `packet ${i} captured length`);
    assert.equal(p.bytes.readUInt16BE(36), port, `packet ${i} destination port`);
    assert.equal(p.bytes.readUInt16BE(38), payloadSize(i) + 8, `packet ${i} UDP length`);
    assert.equal(p.iface, 0);
    assert.ok(p.ts >= before - 0.05 && p.ts <= after + 0.05, `packet ${i} timestamp ${p.ts} within the test`);
    if (i > 0) assert.ok(p.ts > packets[i - 1]!.ts, `packet ${i} timestamp rises`);
  }
  const stats = source.stats();
  // lo shows the kernel each packet twice (out and in); libpcap drops the outgoing copy.
  assert.ok(stats.received >= count, `received ${stats.received} >= ${count}`);
  assert.equal(stats.droppedByKernel, 0);
  assert.equal(stats.droppedByInterface, 0);
  assert.equal(source.droppedPackets, 0);
  assert.deepEqual(source.interfaceStats(), [{ ...stats, droppedByNetmeter: 0 }]);
});

test('with a 64-byte snap length the wire length is still the whole packet', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  const { socket, port } = await udpReceiver();
  const source = await NativeLiveSource.open({ devices: ['lo'], filter: `udp dst port ${port}`, snapLength: 64, flushMs: 20 });
  const { packets, done } = collect(source);
  const sizes = [0, 22, 23, 100, 1000, 1472, 8000, 65000];
  await sendAll(port, sizes);
  await waitFor(() => packets.length >= sizes.length, 5000);
  await source.close();
  await done;
  socket.close();
  assert.deepEqual(packets.map((p) => p.wire), sizes.map((n) => n + 42));
  assert.deepEqual(packets.map((p) => p.captured), sizes.map((n) => Math.min(64, n + 42)));
});

test('with no filter asked for, the kernel still cuts each packet at the snap length before the ring', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  // The cut is the return value of the socket's BPF filter: without one, TPACKET_V3 keeps
  // whole packets and a burst of 64 KiB loopback segments overflows the ring.
  const source = await NativeLiveSource.open({ devices: ['lo'], snapLength: 200 });
  let listing: string;
  try {
    listing = (await run('ss', ['-0', '-b', '-p'])).stdout;
  } catch (error) {
    await source.close();
    t.skip(`ss (iproute2) cannot list packet sockets: ${(error as Error).message.split('\n')[0]}`);
    return;
  }
  await source.close();
  const lines = listing.split('\n');
  const mine = lines.findIndex((line) => line.includes(`pid=${process.pid},`));
  assert.ok(mine >= 0, `our packet socket in ss -0 -p:\n${listing}`);
  // "bpf filter (1):  0x06 0 0 200": one instruction, return 200.
  assert.match(lines[mine + 1] ?? '', /bpf filter \(1\):\s+0x06 0 0 200\b/, `the filter ss shows for it:\n${listing}`);
});

test('two devices are two interfaces, each with its own link type', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  const { socket, port } = await udpReceiver();
  const source = await NativeLiveSource.open({ devices: ['lo', 'any'], filter: `udp port ${port}`, flushMs: 20 });
  assert.deepEqual(source.interfaces(), [
    { name: 'lo', linkType: LinkType.ETHERNET },
    { name: 'any', linkType: LinkType.LINUX_SLL },
  ]);
  const { packets, done } = collect(source);
  const sizes = Array.from({ length: 20 }, (_, i) => 100 + i);
  await sendAll(port, sizes);
  await waitFor(() => packets.length >= 2 * sizes.length, 5000);
  await source.close();
  await done;
  socket.close();
  const lengths = (iface: number) => packets.filter((p) => p.iface === iface).map((p) => p.wire);
  assert.deepEqual(lengths(0), sizes.map((n) => n + 14 + 28));
  assert.deepEqual(lengths(1), sizes.map((n) => n + 16 + 28));
});

test('the same traffic through NativeLiveSource and CapLiveSource at once gives the same packets', { timeout: 60000 }, async (t) => {
  if (skipUnless(t)) return;
  const { socket, port } = await udpReceiver();
  const filter = `udp port ${port}`;
  const [native, cap] = await Promise.all([
    NativeLiveSource.open({ devices: ['lo'], filter, flushMs: 20 }),
    CapLiveSource.open({ devices: ['lo'], filter, flushMs: 20 }),
  ]);
  const fromNative = collect(native);
  const fromCap = collect(cap);
  const sizes = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 9000);
  // In groups both engines catch up with: cap's ring (64 KiB a packet) overflows on a burst.
  for (let sent = 0; sent < sizes.length; sent += 50) {
    await sendAll(port, sizes.slice(sent, sent + 50));
    const upTo = Math.min(sent + 50, sizes.length);
    await waitFor(() => fromNative.packets.length >= upTo && fromCap.packets.length >= upTo, 5000);
  }
  await Promise.all([native.close(), cap.close()]);
  await Promise.all([fromNative.done, fromCap.done]);
  socket.close();
  assert.equal(fromNative.packets.length, sizes.length);
  assert.equal(fromCap.packets.length, sizes.length);
  assert.deepEqual(fromNative.packets.map((p) => p.wire), fromCap.packets.map((p) => p.wire));
  assert.deepEqual(fromNative.packets.map((p) => p.wire), sizes.map((n) => n + 42));
  // The bytes both kept are the same bytes.
  for (const [i, p] of fromNative.packets.entries()) {
    const other = fromCap.packets[i]!;
    assert.ok(p.bytes.equals(other.bytes.subarray(0, p.captured)), `packet ${i} bytes`);
  }
});

test('coalesced, each flow direction of a batch is one entry: the first packet, the sum, the count, first and last time', { timeout: 60000 }, async (t) => {
  if (skipUnless(t)) return;
  const { socket, port } = await udpReceiver();
  const filter = `udp port ${port}`;
  // The same packets, twice at once: packet by packet, and coalesced.
  const [single, coalesced] = await Promise.all([
    NativeLiveSource.open({ devices: ['lo'], filter, flushMs: 50 }),
    NativeLiveSource.open({ devices: ['lo'], filter, flushMs: 50, coalesce: true }),
  ]);
  const fromSingle = collect(single);
  const fromCoalesced = collect(coalesced);
  // Three flows (three sending sockets), their datagrams interleaved: 600 packets whose
  // sizes differ packet to packet.
  const senders = await Promise.all([0, 1, 2].map(async () => {
    const sender = createSocket('udp4');
    sender.bind(0, '127.0.0.1');
    await once(sender, 'listening');
    return sender;
  }));
  const sizes = Array.from({ length: 600 }, (_, i) => 1 + ((i * 7919) % 1400));
  for (const [i, size] of sizes.entries()) {
    const sender = senders[i % 3]!;
    await new Promise<void>((resolve, reject) => sender.send(Buffer.alloc(size, i), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }
  await waitFor(() => fromSingle.packets.length >= sizes.length && fromCoalesced.packets.reduce((n, e) => n + e.packets, 0) >= sizes.length, 5000);
  await Promise.all([single.close(), coalesced.close()]);
  await Promise.all([fromSingle.done, fromCoalesced.done]);
  const entries = fromCoalesced.packets;
  const flowPorts = senders.map((sender) => sender.address().port);
  socket.close();
  for (const sender of senders) sender.close();

  assert.equal(fromSingle.packets.length, sizes.length);
  assert.equal(entries.reduce((n, e) => n + e.packets, 0), sizes.length, 'every packet is in one entry');
  assert.ok(entries.length < sizes.length / 10, `${entries.length} entries for ${sizes.length} packets`);
  // Per flow (source port), the entries in order cover the packets in order.
  const sourcePort = (bytes: Buffer) => bytes.readUInt16BE(14 + 20);
  for (const flowPort of flowPorts) {
    const packets = fromSingle.packets.filter((p) => sourcePort(p.bytes) === flowPort);
    const flowEntries = entries.filter((e) => sourcePort(e.bytes) === flowPort);
    assert.equal(packets.length, sizes.length / 3);
    let next = 0;
    for (const entry of flowEntries) {
      const covered = packets.slice(next, next + entry.packets);
      next += entry.packets;
      assert.ok(entry.bytes.equals(covered[0]!.bytes), 'an entry holds its first packet\'s bytes');
      assert.equal(entry.wire, covered.reduce((n, p) => n + p.wire, 0), 'an entry\'s wire length is its packets\' sum');
      assert.equal(entry.ts, covered[0]!.ts, 'first packet time');
      assert.equal(entry.lastTs, covered.at(-1)!.ts, 'last packet time');
    }
    assert.equal(next, packets.length);
  }
});

test('a filter libpcap cannot parse rejects with a one-line CaptureDeviceError naming it', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  await assert.rejects(NativeLiveSource.open({ devices: ['lo'], filter: 'udp prot 53' }), (error: unknown) => {
    assert.ok(error instanceof CaptureDeviceError, String(error));
    assert.match(error.message, /^bad capture filter 'udp prot 53': .*syntax error/);
    assert.ok(!error.message.includes('\n'), 'one line');
    return true;
  });
});

test('close() stops promptly; a second close and a consumer that stops iterating are fine', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  const first = await NativeLiveSource.open({ devices: ['lo'], filter: 'udp port 9' });
  const { done } = collect(first);
  const started = performance.now();
  await first.close();
  const took = performance.now() - started;
  await first.close();
  await done;
  assert.ok(took < 500, `close took ${took.toFixed(0)} ms`);

  const second = await NativeLiveSource.open({ devices: ['lo'], flushMs: 10 });
  const sender = createSocket('udp4');
  const ticker = setInterval(() => sender.send('tick', 9, '127.0.0.1'), 5);
  for await (const batch of second.batches()) {
    if (batch.count > 0) break;
  }
  clearInterval(ticker);
  sender.close();
  await second.close(); // already closed by the loop's end; returns at once
});

for (const keepBatches of [false, true]) {
  test(`a batch's arrays are ${keepBatches ? 'kept with keepBatches' : 'taken back when the next batch is asked for'}`, { timeout: 30000 }, async (t) => {
    if (skipUnless(t)) return;
    const { socket, port } = await udpReceiver();
    const source = await NativeLiveSource.open({ devices: ['lo'], filter: `udp dst port ${port}`, flushMs: 10, keepBatches });
    const seen: PacketBatch[] = [];
    const sender = createSocket('udp4');
    const ticker = setInterval(() => sender.send(Buffer.alloc(100), port, '127.0.0.1'), 30);
    for await (const batch of source.batches()) {
      assert.equal(batch.wireLength[0], 142);
      seen.push(batch);
      if (seen.length === 3) break;
    }
    clearInterval(ticker);
    sender.close();
    socket.close();
    await source.close();
    for (const batch of seen.slice(0, 2)) {
      if (keepBatches) {
        assert.equal(batch.wireLength.length, batch.count);
        assert.equal(batch.wireLength[0], 142);
        assert.equal(batch.data.length > 0, true);
      } else {
        assert.equal(batch.wireLength.length, 0, 'detached');
        assert.equal(batch.data.length, 0, 'detached');
      }
    }
    assert.equal(seen[2]!.wireLength[0], 142, 'the batch a consumer stopped at is left alone');
  });
}

test('batches nobody takes are dropped and counted, never queued without bound', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  const { socket, port } = await udpReceiver();
  const source = await NativeLiveSource.open({ devices: ['lo'], filter: `udp dst port ${port}`, flushMs: 0, batchPackets: 10, maxQueuedBatches: 2 });
  const count = 100;
  await sendAll(port, Array.from({ length: count }, () => 10));
  await waitFor(() => source.droppedPackets + 30 >= count, 5000); // 2 queued + 1 filling, 10 each
  const { packets, done } = collect(source);
  await waitFor(() => packets.length + source.droppedPackets >= count, 5000);
  await source.close();
  await done;
  socket.close();
  assert.ok(source.droppedPackets >= count - 30, `dropped ${source.droppedPackets}`);
  assert.equal(packets.length + source.droppedPackets, count);
});

test('without privileges, opening lo fails with the PrivilegeError message', { timeout: 30000 }, async (t) => {
  if (skipUnless(t, false)) return;
  if (process.getuid?.() !== 0) {
    if (privileged) return t.skip('has capture privileges without being root: cannot drop them to test this');
    await assert.rejects(NativeLiveSource.open({ devices: ['lo'] }), PrivilegeError);
    return;
  }
  const script = `
    import { NativeLiveSource } from ${JSON.stringify(nativeSourceUrl)};
    try { await NativeLiveSource.open({ devices: ['lo'] }); console.log('opened'); process.exit(0); }
    catch (error) { console.error(error.name + ': ' + error.message); process.exit(1); }`;
  const result = await runModuleAsNobody(script);
  if (!result) return t.skip('neither setpriv nor runuser is installed: cannot run as an unprivileged user');
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr.trim(), /^PrivilegeError: capturing on lo needs privileges: run with sudo/);
});

test('promiscuous mode is off unless asked for', { timeout: 60000 }, async (t) => {
  if (skipUnless(t)) return;
  await withNamespace(t, async (namespace) => {
    const flags = async () => Number.parseInt((await run('ip', ['netns', 'exec', namespace, 'cat', '/sys/class/net/nmt0/flags'])).stdout.trim(), 16);
    const IFF_PROMISC = 0x100;
    for (const promisc of [undefined, false, true]) {
      const script = `
        import { NativeLiveSource } from ${JSON.stringify(nativeSourceUrl)};
        const source = await NativeLiveSource.open({ devices: ['nmt0'], ${promisc === undefined ? '' : `promisc: ${promisc}`} });
        console.log('ready');
        process.stdin.on('end', async () => { await source.close(); console.log('closed'); }).resume();`;
      const { child, stdout, stderr, closed } = spawnInNamespace(namespace, script);
      await waitFor(() => stdout().includes('ready') || child.exitCode !== null, 10000);
      assert.match(stdout(), /ready/, stderr());
      const during = await flags();
      child.stdin!.end();
      await closed;
      assert.match(stdout(), /closed/, stderr());
      assert.equal((during & IFF_PROMISC) !== 0, promisc === true, `promisc ${promisc}: flags 0x${during.toString(16)}`);
      assert.equal((await flags()) & IFF_PROMISC, 0, 'promiscuous mode ends with the capture');
    }
  });
});

for (const how of ['down', 'deleted'] as const) {
  test(`an interface ${how === 'down' ? 'going down' : 'being deleted'} mid-capture ends batches() with an error, not a crash`, { timeout: 60000 }, async (t) => {
    if (skipUnless(t)) return;
    await withNamespace(t, async (namespace) => {
      const script = `
        import { NativeLiveSource } from ${JSON.stringify(nativeSourceUrl)};
        const source = await NativeLiveSource.open({ devices: ['nmt0'] });
        console.log('ready');
        try { for await (const batch of source.batches()) void batch; console.log('ended without an error'); }
        catch (error) { console.log(error.name + ': ' + error.message); }`;
      const { child, stdout, stderr, closed } = spawnInNamespace(namespace, script);
      child.stdin!.end();
      await waitFor(() => stdout().includes('ready') || child.exitCode !== null, 10000);
      assert.match(stdout(), /ready/, stderr());
      const started = performance.now();
      if (how === 'down') await run('ip', ['-n', namespace, 'link', 'set', 'nmt0', 'down']);
      else await run('ip', ['-n', namespace, 'link', 'del', 'nmt0']);
      const [code] = (await closed) as [number | null];
      assert.equal(code, 0, `the capturing process exits normally (stderr: ${stderr()})`);
      const expected = how === 'down' ? 'the interface went down' : 'the interface was removed';
      assert.equal(stdout().trim().split('\n').at(-1), `CaptureDeviceError: capture on 'nmt0' stopped: ${expected}`);
      assert.ok(performance.now() - started < 5000, 'noticed within seconds');
    });
  });
}

test('a process that exits with a capture still open exits cleanly', { timeout: 30000 }, async (t) => {
  if (skipUnless(t)) return;
  const script = `
    import { NativeLiveSource } from ${JSON.stringify(nativeSourceUrl)};
    const source = await NativeLiveSource.open({ devices: ['lo'] });
    setTimeout(() => process.exit(7), 100);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  assert.equal(signal, null, stderr);
  assert.equal(code, 7, stderr);
});
