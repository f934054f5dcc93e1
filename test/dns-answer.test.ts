// The DNS answer parser (src/decode/dns-answer.ts) and the watch that feeds names from
// captured packets (src/resolve/dns-watch.ts), on answers dnsmasq gave dig
// (fixtures/dns/make-dns-fixtures.sh) checked against tshark's reading of the same file,
// on hand-built messages (compression loops, mDNS, hostile labels), and on every truncation
// and seeded corruption of the captured answers: counted and skipped, never a throw.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PcapFileSource } from '../src/capture/pcap-file.js';
import type { PacketBatch } from '../src/capture/packet-batch.js';
import { readDnsAnswers, type DnsAddressName } from '../src/decode/dns-answer.js';
import { decodePacket } from '../src/decode/decode-packet.js';
import { DecodedPacket } from '../src/decode/decoded-packet.js';
import { DnsWatch } from '../src/resolve/dns-watch.js';
import { HostNames } from '../src/resolve/host-names.js';
import { REPO_ROOT } from './support/run-cli.js';
import { fuzzRandom as random } from './support/seeded-random.js';

const FIXTURE = join(REPO_ROOT, 'fixtures/dns/dns-answers.pcap');

async function fixtureBatches(): Promise<PacketBatch[]> {
  const batches: PacketBatch[] = [];
  for await (const batch of new PcapFileSource(FIXTURE, readFileSync(FIXTURE)).batches()) batches.push(batch);
  return batches;
}

/** The DNS messages of the fixture's responses (UDP from port 53), as their own buffers. */
async function fixtureResponses(): Promise<Buffer[]> {
  const out = new DecodedPacket();
  const messages: Buffer[] = [];
  for (const batch of await fixtureBatches()) {
    for (let i = 0; i < batch.count; i++) {
      const start = batch.offset[i]!;
      assert.ok(decodePacket(batch.data, start, batch.capturedLength[i]!, batch.interfaces[0]!.linkType, out));
      if (out.sourcePort !== 53) continue;
      const ipAt = out.ipVersion === 4 ? out.sourceAt - 12 : out.sourceAt - 8;
      const udpAt = out.ipVersion === 4 ? ipAt + (batch.data[ipAt]! & 15) * 4 : ipAt + 40;
      messages.push(Buffer.from(batch.data.subarray(udpAt + 8, udpAt + batch.data.readUInt16BE(udpAt + 4))));
    }
  }
  return messages;
}

function answersOf(message: Uint8Array): { result: string; answers: DnsAddressName[] } {
  const answers: DnsAddressName[] = [];
  const result = readDnsAnswers(message, 0, message.length, answers);
  return { result, answers };
}

test('the captured answers: the name asked for, through CNAME chains, A and AAAA, with the TTL', async () => {
  const responses = await fixtureResponses();
  assert.equal(responses.length, 7);
  const pairs = responses.flatMap((m) => answersOf(m).answers.map((a) => `${a.address} ${a.name} ${a.ttlSeconds}`));
  // dnsmasq's records (make-dns-fixtures.sh), local-ttl=300; the question "APP.Test" comes back lower case.
  assert.deepEqual(pairs, [
    '198.18.5.10 app.test 300',
    'fd00::5:10 app.test 300',
    '198.18.5.20 www.chain.test 300',
    'fd00::5:20 www.chain.test 300',
    '198.18.5.31 many.test 300',
    '198.18.5.32 many.test 300',
  ]);
  // The PTR answer and the refused query name no address.
  assert.deepEqual(responses.map((m) => answersOf(m).result), ['answers', 'answers', 'answers', 'answers', 'answers', 'answers', 'notAnswer']);
});

test("the captured answers agree with tshark's: every (question, address) pair", async (t) => {
  let tsv: string;
  try {
    tsv = execFileSync('tshark', ['-r', FIXTURE, '-Y', 'dns.flags.response == 1 && dns.flags.rcode == 0', '-T', 'fields', '-E', 'separator=/t', '-e', 'dns.qry.name', '-e', 'dns.a', '-e', 'dns.aaaa'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return t.skip('tshark is not installed');
  }
  const theirs = tsv
    .trim()
    .split('\n')
    .flatMap((line) => {
      const [name, a, aaaa] = line.split('\t');
      return [...(a ? a.split(',') : []), ...(aaaa ? aaaa.split(',') : [])].map((address) => `${address} ${name!.toLowerCase()}`);
    });
  const ours = (await fixtureResponses()).flatMap((m) => answersOf(m).answers.map((a) => `${a.address} ${a.name}`));
  assert.deepEqual(ours.sort(), theirs.sort());
});

test('the watch learns the names from captured packets into the cache', async () => {
  const names = new HostNames();
  const watch = new DnsWatch(names, { open: () => Promise.reject(new Error('not opened in this test')) });
  for (const batch of await fixtureBatches()) watch.ingest(batch);
  assert.equal(names.name('198.18.5.20'), 'www.chain.test');
  assert.equal(names.name('fd00::5:20'), 'www.chain.test');
  assert.equal(names.name('::ffff:198.18.5.10'), 'app.test', 'an IPv4-mapped address goes by its IPv4 name');
  assert.equal(names.name('198.18.5.30'), undefined, 'a PTR answer in the capture names nothing');
  assert.deepEqual(watch.counts, { responses: 6, names: 6, malformed: 0 });
});

/** A DNS message from parts: header fields, then raw question and answer bytes. */
function message(flags: number, questions: number, answers: number, body: number[]): Buffer {
  return Buffer.from([0x12, 0x34, flags >> 8, flags & 255, 0, questions, 0, answers, 0, 0, 0, 0, ...body]);
}
const name = (...labels: string[]) => [...labels.flatMap((l) => [l.length, ...Buffer.from(l, 'latin1')]), 0];
const record = (type: number, klass: number, ttl: number, data: number[]) => [0, type, klass >> 8, klass & 255, ttl >>> 24, (ttl >> 16) & 255, (ttl >> 8) & 255, ttl & 255, data.length >> 8, data.length & 255, ...data];

test('compression pointers: followed within the message; loops and pointers outside it are malformed', () => {
  // Question "a.test" at offset 12; the answer's owner is a pointer to it (0xc00c).
  const ok = message(0x8180, 1, 1, [...name('a', 'test'), 0, 1, 0, 1, 0xc0, 0x0c, ...record(1, 1, 60, [198, 18, 0, 9])]);
  assert.deepEqual(answersOf(ok), { result: 'answers', answers: [{ address: '198.18.0.9', name: 'a.test', ttlSeconds: 60 }] });
  // A label, then a pointer back to itself: a loop.
  const loop = message(0x8180, 1, 0, [1, 0x61, 0xc0, 0x0c, 0, 1, 0, 1]);
  assert.equal(answersOf(loop).result, 'malformed');
  const outside = message(0x8180, 1, 0, [0xc0, 0xff, 0, 1, 0, 1]);
  assert.equal(answersOf(outside).result, 'malformed');
  // Label types 0x40 and 0x80 are not names.
  assert.equal(answersOf(message(0x8180, 1, 0, [0x41, 0, 0, 1, 0, 1])).result, 'malformed');
});

test('a CNAME chain leads back to the question; the chain\'s smallest TTL counts; an unrelated record keeps its name', () => {
  const body = [
    ...name('www', 'shop', 'test'), 0, 1, 0, 1,
    0xc0, 0x0c, ...record(5, 1, 30, name('edge', 'cdn', 'test')),
    ...name('edge', 'cdn', 'test'), ...record(5, 1, 600, name('n1', 'cdn', 'test')),
    ...name('n1', 'cdn', 'test'), ...record(1, 1, 120, [198, 18, 1, 1]),
    ...name('other', 'test'), ...record(1, 1, 90, [198, 18, 1, 2]),
  ];
  assert.deepEqual(answersOf(message(0x8180, 1, 4, body)).answers, [
    { address: '198.18.1.1', name: 'www.shop.test', ttlSeconds: 30 },
    { address: '198.18.1.2', name: 'other.test', ttlSeconds: 90 },
  ]);
  // A CNAME loop ends without a name from the question (and without hanging).
  const loop = [...name('x', 'test'), 0, 1, 0, 1, ...name('a', 'test'), ...record(5, 1, 9, name('b', 'test')), ...name('b', 'test'), ...record(5, 1, 9, name('a', 'test')), ...name('a', 'test'), ...record(1, 1, 9, [198, 18, 1, 3])];
  assert.deepEqual(answersOf(message(0x8180, 1, 3, loop)).answers, [{ address: '198.18.1.3', name: 'a.test', ttlSeconds: 9 }]);
});

test('mDNS announcements (no question, cache-flush bit) name their own records; queries and errors name nothing', () => {
  const announce = message(0x8400, 0, 1, [...name('printer', 'local'), ...record(28, 0x8001, 120, [0xfd, 0, ...new Array(13).fill(0), 7])]);
  assert.deepEqual(answersOf(announce).answers, [{ address: 'fd00::7', name: 'printer.local', ttlSeconds: 120 }]);
  assert.equal(answersOf(message(0x0100, 1, 0, [...name('a', 'test'), 0, 1, 0, 1])).result, 'notAnswer');
  assert.equal(answersOf(message(0x8183, 1, 0, [...name('a', 'test'), 0, 1, 0, 1])).result, 'notAnswer', 'NXDOMAIN');
  // A wrong-sized A record is not an address.
  assert.deepEqual(answersOf(message(0x8180, 0, 1, [...name('a', 'test'), ...record(1, 1, 5, [1, 2, 3])])).answers, []);
});

test('labels from the wire reach the screen as safe text: control bytes and dots inside a label are escaped', () => {
  const hostile = message(0x8180, 0, 1, [...name('\x1b[2Jevil', 'a.b'), ...record(1, 1, 5, [198, 18, 0, 1])]);
  const [answer] = answersOf(hostile).answers;
  assert.equal(answer?.name, '\\027\\0912jevil.a\\046b');
});


const SAFE_NAME = /^([a-z0-9_-]|\\[0-9]{3})+(\.([a-z0-9_-]|\\[0-9]{3})+)*$/;

function checkNeverThrows(bytes: Uint8Array): string {
  const { result, answers } = answersOf(bytes);
  for (const a of answers) {
    assert.match(a.name, SAFE_NAME);
    assert.ok(a.ttlSeconds >= 0 && a.ttlSeconds <= 0xffffffff);
  }
  return result;
}

test('a captured answer cut anywhere before its last record is malformed, cut after it reads whole; never a throw', async () => {
  let malformed = 0;
  for (const full of await fixtureResponses()) {
    const whole = JSON.stringify(answersOf(full));
    // The first length at which the message reads as the whole does: every shorter cut is malformed.
    let boundary = full.length;
    while (boundary > 0 && JSON.stringify(answersOf(full.subarray(0, boundary - 1))) === whole) boundary--;
    for (let length = 0; length < full.length; length++) {
      const result = checkNeverThrows(full.subarray(0, length));
      if (length < boundary) {
        assert.equal(result, 'malformed', `cut at ${length} of ${full.length}`);
        malformed++;
      }
    }
    // The rest of an answer is the EDNS OPT record (11 bytes), which names nothing; an error's header is all that is read.
    const rest = full.length - boundary;
    assert.ok(answersOf(full).result === 'answers' ? rest === 11 : boundary === 12, `${rest} bytes after the answers`);
  }
  assert.ok(malformed > 400, `truncations found malformed: ${malformed}`);
});

test('seeded corruption of the captured answers never throws, and the watch counts what it skipped', async () => {
  const next = random(0x5eed);
  const responses = await fixtureResponses();
  const results = new Map<string, number>();
  for (let round = 0; round < 5000; round++) {
    const bytes = Buffer.from(responses[round % responses.length]!);
    const flips = 1 + Math.floor(next() * 4);
    for (let f = 0; f < flips; f++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
    const result = checkNeverThrows(bytes);
    results.set(result, (results.get(result) ?? 0) + 1);
  }
  assert.ok((results.get('malformed') ?? 0) > 0 && (results.get('answers') ?? 0) > 0, JSON.stringify([...results]));

  // Through the watch: damaged answers in captured packets are counted, never thrown.
  const watch = new DnsWatch(new HostNames(), { open: () => Promise.reject(new Error('unused')) });
  for (const batch of await fixtureBatches()) {
    for (let round = 0; round < 200; round++) {
      const copy: PacketBatch = { ...batch, data: Buffer.from(batch.data) };
      for (let i = 0; i < copy.count; i++) {
        const at = copy.offset[i]! + 42 + Math.floor(next() * Math.max(1, copy.capturedLength[i]! - 42));
        if (at < copy.offset[i]! + copy.capturedLength[i]!) copy.data[at] = Math.floor(next() * 256);
      }
      watch.ingest(copy);
    }
  }
  assert.ok(watch.counts.malformed > 0, JSON.stringify(watch.counts));
});
