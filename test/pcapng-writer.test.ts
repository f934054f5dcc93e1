import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openCaptureFile } from '../src/capture/open-capture-file.js';
import { LinkType, PacketBatchBuilder, type CaptureInterface, type PacketBatch } from '../src/capture/packet-batch.js';
import { PcapngWriter } from '../src/capture/pcapng-writer.js';
import { NETMETER_PEN } from '../src/capture/pcapng-file.js';

const dir = await mkdtemp(join(tmpdir(), 'netmeter-pcapng-writer-'));
let fileNumber = 0;
const nextPath = () => join(dir, `written-${fileNumber++}.pcapng`);

interface Packet {
  bytes: Buffer;
  wireLength: number;
  ts: number;
  iface: CaptureInterface;
}

const eth0: CaptureInterface = { name: 'eth0', linkType: LinkType.ETHERNET };
const tun0: CaptureInterface = { name: 'tun0', linkType: LinkType.RAW };

/** A batch over one backing buffer holding `packets`, which must use `interfaces`. */
function batchOf(packets: Packet[], interfaces: CaptureInterface[]): PacketBatch {
  const builder = new PacketBatchBuilder(packets.length);
  // A leading gap, so offsets into the backing buffer are not simply 0-based.
  const data = Buffer.concat([Buffer.from('gap!'), ...packets.map((p) => p.bytes)]);
  let offset = 4;
  for (const p of packets) {
    builder.push(offset, p.bytes.length, p.wireLength, p.ts, interfaces.indexOf(p.iface));
    offset += p.bytes.length;
  }
  return builder.take(data, interfaces);
}

function packet(i: number, iface: CaptureInterface, length: number, wireLength = length): Packet {
  const bytes = Buffer.alloc(length);
  for (let j = 0; j < length; j++) bytes[j] = (i * 31 + j) & 0xff;
  return { bytes, wireLength, ts: 1700000000.123456 + i * 0.000731, iface };
}

async function readBack(path: string) {
  const source = await openCaptureFile(path);
  const packets: Array<{ hex: string; wireLength: number; micros: number; iface: CaptureInterface }> = [];
  for await (const b of source.batches()) {
    for (let i = 0; i < b.count; i++) {
      packets.push({
        hex: b.data.toString('hex', b.offset[i]!, b.offset[i]! + b.capturedLength[i]!),
        wireLength: b.wireLength[i]!,
        micros: Math.round(b.timestamp[i]! * 1e6),
        iface: b.interfaces[b.interfaceIndex[i]!]!,
      });
    }
  }
  return { source, packets };
}

/** Walks the file's blocks: [type, body] of each. */
function blocks(file: Buffer): Array<{ type: number; body: Buffer }> {
  const out: Array<{ type: number; body: Buffer }> = [];
  for (let pos = 0; pos < file.length; ) {
    const type = file.readUInt32LE(pos);
    const length = file.readUInt32LE(pos + 4);
    assert.equal(length % 4, 0, `block at ${pos} has an unaligned length`);
    assert.equal(file.readUInt32LE(pos + length - 4), length, `block at ${pos} has a different trailing length`);
    out.push({ type, body: file.subarray(pos + 8, pos + length - 4) });
    pos += length;
  }
  return out;
}

async function tshark(args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('tshark', args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// Two interfaces of different link types, the second first seen in a later batch, a batch
// listing them in the other order, odd and zero lengths (padding), truncated packets.
const first = [packet(0, eth0, 60), packet(1, eth0, 61, 1514), packet(2, eth0, 0, 42), packet(3, eth0, 1514)];
const second = [packet(4, tun0, 41), packet(5, eth0, 62), packet(6, tun0, 20, 65535), packet(7, tun0, 1500)];
const third = [packet(8, eth0, 63), packet(9, tun0, 23)];
const written = [...first, ...second, ...third];
const snapshot = JSON.stringify({ version: 1, sockets: [{ pid: 42, name: 'curl', note: 'ünïcödé' }] });

async function writeSample(path: string): Promise<void> {
  const writer = new PcapngWriter(path);
  await writer.write(batchOf(first, [eth0]));
  await writer.writeAttachment(snapshot);
  await writer.write(batchOf(second, [eth0, tun0]));
  await writer.write(batchOf(third, [tun0, eth0]));
  await writer.writeAttachment('{}');
  await writer.close();
}

test('packets written are read back by openCaptureFile with bytes, lengths, interface and time', async () => {
  const path = nextPath();
  await writeSample(path);
  const { source, packets } = await readBack(path);
  assert.equal(source.kind, 'pcapng');
  assert.deepEqual(source.interfaces(), [eth0, tun0]);
  assert.equal(packets.length, written.length);
  for (const [i, p] of packets.entries()) {
    const expected = written[i]!;
    assert.equal(p.hex, expected.bytes.toString('hex'), `packet ${i} bytes`);
    assert.equal(p.wireLength, expected.wireLength, `packet ${i} wire length`);
    assert.equal(p.micros, Math.round(expected.ts * 1e6), `packet ${i} timestamp`);
    assert.deepEqual(p.iface, expected.iface, `packet ${i} interface`);
  }
});

test('one interface description per interface, each before its first packet, with if_name and snaplen', async () => {
  const path = nextPath();
  await writeSample(path);
  const all = blocks(await readFile(path));
  assert.equal(all[0]!.type, 0x0a0d0d0a);
  assert.equal(all[0]!.body.readUInt32LE(0), 0x1a2b3c4d, 'little-endian byte-order magic');
  const types = all.map((b) => b.type);
  assert.deepEqual(types, [0x0a0d0d0a, 1, 6, 6, 6, 6, 0xbad, 1, 6, 6, 6, 6, 6, 6, 0xbad]);
  const descriptions = all.filter((b) => b.type === 1);
  assert.deepEqual(
    descriptions.map((d) => ({ linkType: d.body.readUInt16LE(0), snapLength: d.body.readUInt32LE(4), nameOption: d.body.readUInt16LE(8) })),
    [
      { linkType: LinkType.ETHERNET, snapLength: 262144, nameOption: 2 },
      { linkType: LinkType.RAW, snapLength: 262144, nameOption: 2 },
    ],
  );
});

test('attachments are custom blocks with enterprise number 32473 and the UTF-8 JSON, zero-padded', async () => {
  const path = nextPath();
  await writeSample(path);
  const custom = blocks(await readFile(path)).filter((b) => b.type === 0x00000bad);
  assert.equal(custom.length, 2);
  for (const block of custom) assert.equal(block.body.readUInt32LE(0), NETMETER_PEN);
  const texts = custom.map((b) => b.body.subarray(4).toString('utf8').replace(/\0{1,3}$/, ''));
  assert.deepEqual(texts, [snapshot, '{}']);
  assert.deepEqual(JSON.parse(texts[0]!), JSON.parse(snapshot));
});

test('tshark reads the written file and agrees on every frame length, captured length and interface', async (t) => {
  const path = nextPath();
  await writeSample(path);
  const out = await tshark(['-r', path, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_name', '-e', '_ws.col.Info']);
  if (out === undefined) {
    t.skip('tshark is not installed');
    return;
  }
  const rows = out.trim().split('\n').map((line) => line.split('|'));
  // Wireshark 4 lists custom blocks as records of their own, without an interface, their
  // length counting the padding (the block does not say where the data ends).
  const attachments = rows.filter((r) => r[2] === '');
  assert.deepEqual(
    attachments.map((r) => [r[0], /Custom Block: PEN = .*\(32473\)/.test(r[3]!)]),
    [
      [String((Buffer.byteLength(snapshot) + 3) & ~3), true],
      ['4', true],
    ],
  );
  assert.deepEqual(
    rows.filter((r) => r[2] !== '').map((r) => r.slice(0, 3).join(',')),
    written.map((p) => `${p.wireLength},${p.bytes.length},${p.iface.name}`),
  );
});

test('many large batches are written in order, with the stream\'s backpressure respected', async () => {
  const path = nextPath();
  const writer = new PcapngWriter(path, { snapLength: 65535 });
  const perBatch = 500;
  const batches = 40;
  for (let b = 0; b < batches; b++) {
    const packets = Array.from({ length: perBatch }, (_, i) => packet(b * perBatch + i, eth0, 1000 + (i % 5)));
    await writer.write(batchOf(packets, [eth0]));
  }
  await writer.close();
  const { packets } = await readBack(path);
  assert.equal(packets.length, perBatch * batches);
  assert.ok(packets.every((p, i) => p.wireLength === 1000 + ((i % perBatch) % 5)));
  const micros = packets.map((p) => p.micros);
  assert.ok(micros.every((m, i) => i === 0 || m > micros[i - 1]!), 'timestamps in written order');
});

test('an empty capture is a valid file with no interfaces; using a closed writer throws', async () => {
  const path = nextPath();
  const writer = new PcapngWriter(path);
  await writer.close();
  const { source, packets } = await readBack(path);
  assert.equal(packets.length, 0);
  assert.deepEqual(source.interfaces(), []);
  await assert.rejects(writer.write(batchOf([packet(0, eth0, 60)], [eth0])), /closed/);
});

test('a file that cannot be created rejects with the system error', async () => {
  const writer = new PcapngWriter(join(dir, 'no-such-dir', 'x.pcapng'));
  await assert.rejects(
    (async () => {
      await writer.write(batchOf([packet(0, eth0, 60)], [eth0]));
      await writer.close();
    })(),
    { code: 'ENOENT' },
  );
});

test('a batch of coalesced entries is refused: the packets after each first are gone', async () => {
  const path = nextPath();
  const writer = new PcapngWriter(path);
  const batch = batchOf([packet(0, eth0, 60)], [eth0]);
  await assert.rejects(writer.write({ ...batch, packets: Uint32Array.of(2), lastTimestamp: Float64Array.of(batch.timestamp[0]! + 1) }), /coalesced/);
  await writer.close();
});
