import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { openCaptureFile } from '../src/capture/open-capture-file.js';
import { CaptureFileError } from '../src/capture/errors.js';
import { LinkType, type PacketSource } from '../src/capture/packet-batch.js';
import { pcapFile, pcapngFile, type TestPacket } from './support/capture-files.js';

const dir = await mkdtemp(join(tmpdir(), 'netmeter-capture-'));
let fileNumber = 0;
async function write(bytes: Buffer): Promise<string> {
  const path = join(dir, `capture-${fileNumber++}`);
  await writeFile(path, bytes);
  return path;
}

interface ReadPacket {
  bytes: string;
  wireLength: number;
  ts: number;
  iface: string;
  linkType: number;
}

async function readAll(source: PacketSource): Promise<ReadPacket[]> {
  const packets: ReadPacket[] = [];
  for await (const b of source.batches()) {
    for (let i = 0; i < b.count; i++) {
      const iface = b.interfaces[b.interfaceIndex[i]!]!;
      packets.push({
        bytes: b.data.toString('hex', b.offset[i]!, b.offset[i]! + b.capturedLength[i]!),
        wireLength: b.wireLength[i]!,
        ts: b.timestamp[i]!,
        iface: iface.name,
        linkType: iface.linkType,
      });
    }
  }
  return packets;
}

const samples: TestPacket[] = Array.from({ length: 50 }, (_, i) => ({
  data: Buffer.alloc(20 + i, i),
  wireLength: 60 + i * 3,
  ts: 1700000000 + i * 0.25,
}));

for (const bigEndian of [false, true]) {
  for (const nanos of [false, true]) {
    test(`classic pcap, ${bigEndian ? 'big' : 'little'}-endian, ${nanos ? 'nano' : 'micro'}second`, async () => {
      const source = await openCaptureFile(await write(pcapFile(LinkType.ETHERNET, samples, { bigEndian, nanos })));
      assert.equal(source.kind, 'pcap');
      const read = await readAll(source);
      assert.equal(read.length, samples.length);
      for (const [i, p] of read.entries()) {
        assert.equal(p.bytes, samples[i]!.data.toString('hex'));
        assert.equal(p.wireLength, samples[i]!.wireLength);
        assert.ok(Math.abs(p.ts - samples[i]!.ts!) < 1e-6);
        assert.equal(p.linkType, LinkType.ETHERNET);
      }
    });
  }
}

test('classic pcap reads the same packets as pcap-parser, the reference', async () => {
  const path = await write(pcapFile(LinkType.RAW, samples));
  const pcapParser = createRequire(import.meta.url)('pcap-parser');
  const reference: Array<{ bytes: string; wireLength: number }> = await new Promise((resolve, reject) => {
    const out: Array<{ bytes: string; wireLength: number }> = [];
    const parser = pcapParser.parse(path);
    parser.on('packet', (p: { header: { originalLength: number }; data: Buffer }) => out.push({ bytes: p.data.toString('hex'), wireLength: p.header.originalLength }));
    parser.on('end', () => resolve(out));
    parser.on('error', reject);
  });
  const ours = (await readAll(await openCaptureFile(path))).map((p) => ({ bytes: p.bytes, wireLength: p.wireLength }));
  assert.deepEqual(ours, reference);
});

for (const bigEndian of [false, true]) {
  test(`pcapng ${bigEndian ? 'big' : 'little'}-endian: interfaces with different link types, all packet blocks, unknown blocks skipped`, async () => {
    const file = pcapngFile(
      [
        { type: 'interface', linkType: LinkType.ETHERNET, name: 'eth0' },
        { type: 'interface', linkType: LinkType.LINUX_SLL2, name: 'any', tsresol: 9 },
        { type: 'enhanced', packet: { data: Buffer.alloc(33, 1), wireLength: 1500, ts: 1700000000.5, iface: 0 } },
        { type: 'unknown', code: 0x0bad, body: Buffer.alloc(13, 7) },
        { type: 'enhanced', packet: { data: Buffer.alloc(21, 2), wireLength: 21, ts: 1700000001.123456789, iface: 1 } },
        { type: 'obsolete', packet: { data: Buffer.alloc(10, 3), wireLength: 90, ts: 1700000002, iface: 1 } },
        { type: 'simple', packet: { data: Buffer.alloc(15, 4) } },
        { type: 'section' },
        { type: 'interface', linkType: LinkType.RAW, name: 'tun0', tsresol: 0x80 | 20 },
        { type: 'enhanced', packet: { data: Buffer.alloc(5, 5), ts: 1700000003, iface: 0 } },
      ],
      { bigEndian },
    );
    const source = await openCaptureFile(await write(file));
    assert.equal(source.kind, 'pcapng');
    const read = await readAll(source);
    assert.deepEqual(
      read.map((p) => [p.iface, p.linkType, p.bytes.length / 2, p.wireLength]),
      [
        ['eth0', LinkType.ETHERNET, 33, 1500],
        ['any', LinkType.LINUX_SLL2, 21, 21],
        ['any', LinkType.LINUX_SLL2, 10, 90],
        ['eth0', LinkType.ETHERNET, 15, 15],
        ['tun0', LinkType.RAW, 5, 5],
      ],
    );
    assert.equal(read[0]!.ts, 1700000000.5);
    assert.ok(Math.abs(read[1]!.ts - 1700000001.123456789) < 1e-6);
    assert.ok(Math.abs(read[4]!.ts - 1700000003) < 1e-5);
  });
}

test('truncated files end with the packets read so far and the offset where they broke', async () => {
  const full = pcapFile(LinkType.ETHERNET, samples);
  const path = await write(full.subarray(0, full.length - 5));
  const source = await openCaptureFile(path);
  let count = 0;
  await assert.rejects(
    (async () => {
      for await (const b of source.batches()) count += b.count;
    })(),
    (error: unknown) => {
      assert.ok(error instanceof CaptureFileError);
      assert.equal(error.packetsRead, samples.length - 1);
      assert.equal(count, samples.length - 1);
      assert.equal(error.offset, full.length - (16 + samples.at(-1)!.data.length));
      assert.match(error.message, /truncated .* at byte \d+, after 49 packets/);
      return true;
    },
  );
});

test('a corrupt record length is an error at its offset, not a read of the whole file', async () => {
  const bytes = pcapFile(LinkType.ETHERNET, samples.slice(0, 3));
  bytes.writeUInt32LE(0x7fffffff, 24 + 16 + 20 + 8); // second record's captured length
  await assert.rejects(readAll(await openCaptureFile(await write(bytes))), /corrupt packet record .* at byte 60, after 1 packets/);
  const ng = pcapngFile([{ type: 'interface', linkType: 1 }, { type: 'enhanced', packet: { data: Buffer.alloc(8) } }]);
  ng.writeUInt32LE(999, ng.length - 4);
  await assert.rejects(readAll(await openCaptureFile(await write(ng))), /trailing length differs/);
});

test('files that are not captures get a one-line error', async () => {
  await assert.rejects(openCaptureFile(await write(Buffer.from('hello world, not a capture'))), /not a pcap or pcapng capture/);
  await assert.rejects(openCaptureFile(join(dir, 'missing.pcap')), /cannot open capture file \(no such file\)/);
  await assert.rejects(openCaptureFile(await write(Buffer.alloc(0))), /: the file is empty \(0 bytes\): no capture was written to it$/);
  await assert.rejects(openCaptureFile(await write(Buffer.from([0xd4, 0xc3]))), /not a pcap or pcapng capture \(only 2 bytes long\)$/);
});

test('files larger than a read chunk: records cut by a chunk end, and batches kept after later ones were read', async () => {
  // Records of up to 256 KiB (the largest a pcap may hold) over ~12 MiB: chunk ends fall
  // inside records; every batch is kept until the end, so a chunk reused or overwritten
  // while its batches are still held would show as different bytes.
  const big: TestPacket[] = Array.from({ length: 300 }, (_, i) => {
    const data = Buffer.alloc(i % 7 === 0 ? 262144 : 1 + ((i * 7919) % 70000));
    for (let j = 0; j < data.length; j += 97) data[j] = (i + j) & 0xff;
    return { data, wireLength: data.length + 4, ts: 1700000000 + i };
  });
  const pcap = pcapFile(LinkType.ETHERNET, big);
  const expected = big.map((p) => p.data.toString('hex'));
  const kept: Array<{ bytes: Buffer; at: number; length: number }> = [];
  for await (const b of (await openCaptureFile(await write(pcap))).batches()) {
    for (let i = 0; i < b.count; i++) kept.push({ bytes: b.data, at: b.offset[i]!, length: b.capturedLength[i]! });
  }
  assert.deepEqual(kept.map((k) => k.bytes.toString('hex', k.at, k.at + k.length)), expected);

  // pcapng: an unknown block of 3 MiB (longer than the room kept in front of each chunk for
  // a record cut in two) between packets.
  const ng = pcapngFile([
    { type: 'interface', linkType: LinkType.ETHERNET },
    ...big.slice(0, 40).map((packet) => ({ type: 'enhanced' as const, packet })),
    { type: 'unknown', code: 0x101, body: Buffer.alloc(3 * 1024 * 1024, 9) },
    ...big.slice(40, 80).map((packet) => ({ type: 'enhanced' as const, packet })),
  ]);
  const read = await readAll(await openCaptureFile(await write(ng)));
  assert.deepEqual(read.map((p) => p.bytes), expected.slice(0, 80));
});
