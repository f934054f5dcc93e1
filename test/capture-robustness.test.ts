// Damaged captures: every truncation of a fixture and thousands of random corruptions must
// either replay or stop with a CaptureFileError — never another exception, never a hang.
// A handful also go through the CLI to check the user sees one line and an exit code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapFileSource } from '../src/capture/pcap-file.js';
import { PcapngFileSource } from '../src/capture/pcapng-file.js';
import { CaptureFileError } from '../src/capture/errors.js';
import { Meter } from '../src/account/meter.js';
import { snapshotAttribution } from '../src/cli/replay.js';
import { REPO_ROOT, runCli } from './support/run-cli.js';
import { fuzzRandom as random } from './support/seeded-random.js';

const path = join(mkdtempSync(join(tmpdir(), 'netmeter-robust-')), 'damaged');

/** The reader a file of these bytes would get (the damage may hit the magic number too). */
function captureFromBytes(bytes: Buffer) {
  const pcapng = bytes.length >= 4 && bytes.readUInt32LE(0) === 0x0a0d0d0a;
  return pcapng ? new PcapngFileSource('damaged', bytes) : new PcapFileSource('damaged', bytes);
}

/** Replays bytes; returns 'ok' or the CaptureFileError message. Any other throw fails the test. */
async function replayBytes(bytes: Buffer): Promise<string> {
  const meter = new Meter(snapshotAttribution(undefined, []));
  try {
    const source = captureFromBytes(bytes);
    for await (const batch of source.batches()) meter.ingest(batch);
    return 'ok';
  } catch (error) {
    if (error instanceof CaptureFileError) {
      assert.ok(!error.message.includes('\n'), 'one line');
      assert.ok(error.packetsRead <= meter.captured.packets, 'packets read are accounted');
      return error.message;
    }
    throw error;
  }
}


const fixtures = ['fragments-v4.pcap', 'udp-mixed-veth.pcapng', 'tcp-v6-veth.pcap', 'loopback-mixed.pcapng', 'tcp-v4-bigtcp.pcap'];
/** One of each link type and header shape the decoder knows beyond Ethernet (fixtures/encapsulated). */
const encapsulated = ['pppoe.pcapng', 'pppoe-sll2.pcap', 'null-le.pcap', 'null-be.pcap', 'loop.pcapng', 'tso.pcap', 'ipv6-ext.pcapng'].map((f) => `../encapsulated/${f}`);

test('every truncation of a pcap and a pcapng fixture replays or ends with the error', async () => {
  for (const name of ['fragments-v4.pcap', 'loopback-mixed.pcapng']) {
    const full = readFileSync(join(REPO_ROOT, 'fixtures/pcap', name));
    let errors = 0;
    for (let length = 0; length < full.length; length++) {
      if ((await replayBytes(full.subarray(0, length))) !== 'ok') errors++;
    }
    assert.equal(await replayBytes(full), 'ok');
    assert.ok(errors > 0, `${name}: some truncations must be reported`);
  }
});

test('truncations at a stride through the larger fixtures', async () => {
  for (const name of [...fixtures, ...encapsulated]) {
    const full = readFileSync(join(REPO_ROOT, 'fixtures/pcap', name));
    for (let length = 0; length < full.length; length += 37) await replayBytes(full.subarray(0, length));
  }
});

test('3,000 random corruptions of each fixture replay or end with the error', async () => {
  for (const [index, name] of [...fixtures, ...encapsulated].entries()) {
    const full = readFileSync(join(REPO_ROOT, 'fixtures/pcap', name));
    const next = random(index + 1);
    for (let round = 0; round < 3000; round++) {
      const bytes = Buffer.from(full);
      const flips = 1 + Math.floor(next() * 8);
      for (let f = 0; f < flips; f++) {
        // Half the damage lands in the first bytes, where headers and lengths live.
        const at = Math.floor(next() < 0.5 ? next() * Math.min(400, bytes.length) : next() * bytes.length);
        bytes[at] = Math.floor(next() * 256);
      }
      await replayBytes(bytes);
    }
  }
});

test('the CLI reports a damaged capture in one line, with what it read, and exit code 1', async () => {
  const full = readFileSync(join(REPO_ROOT, 'fixtures/pcap/tcp-v4-veth.pcap'));
  writeFileSync(path, full.subarray(0, full.length - 100));
  const truncated = await runCli(['replay', path]);
  assert.equal(truncated.code, 1);
  assert.match(truncated.stderr, /^netmeter: .*truncated packet record .* at byte \d+, after \d+ packets; the totals above cover the packets read so far\n$/);
  assert.match(truncated.stdout, /total/);

  writeFileSync(path, Buffer.from('GET / HTTP/1.1\r\n'));
  const garbage = await runCli(['replay', path, '--json']);
  assert.equal(garbage.code, 1);
  assert.equal(garbage.stdout, '');
  assert.match(garbage.stderr, /^netmeter: .*not a pcap or pcapng capture \(unknown magic number\)\n$/);

  const usage = await runCli(['replay']);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr.split('\n').filter(Boolean).length, 2);
});

test('the CLI says an empty capture file is empty, in one line, exit code 1', async () => {
  writeFileSync(path, Buffer.alloc(0));
  for (const args of [[], ['--json']]) {
    const empty = await runCli(['replay', path, ...args]);
    assert.equal(empty.code, 1);
    assert.equal(empty.stdout, '');
    assert.equal(empty.stderr, `netmeter: ${path}: the file is empty (0 bytes): no capture was written to it\n`);
  }
});

test('damaged captures of every link type through the CLI: a report and one line with exit code 1, or a clean replay; never a stack trace', async () => {
  const next = random(1313);
  for (const name of [...fixtures, ...encapsulated]) {
    const full = readFileSync(join(REPO_ROOT, 'fixtures/pcap', name));
    const damaged: Buffer[] = [full.subarray(0, 1 + Math.floor(next() * 23)), full.subarray(0, Math.floor(full.length * (0.2 + next() * 0.7)))];
    for (let n = 0; n < 2; n++) {
      const bytes = Buffer.from(full);
      for (let f = 0; f < 6; f++) bytes[Math.floor(next() * Math.min(600, bytes.length))] = Math.floor(next() * 256);
      damaged.push(bytes);
    }
    for (const bytes of damaged) {
      writeFileSync(path, bytes);
      const result = await runCli(['replay', path, '--json']);
      const what = `${name}, ${bytes.length} bytes`;
      assert.ok(result.code === 0 || result.code === 1, `${what}: exit code ${result.code}`);
      assert.doesNotMatch(result.stderr, /\n\s+at |Error:/, what);
      if (result.code === 1) assert.match(result.stderr, /^netmeter: [^\n]+\n$/, what);
      else assert.equal(result.stderr, '', what);
      // What was read before the damage is still reported (or nothing, when not even the header was).
      if (result.stdout !== '') assert.equal(JSON.parse(result.stdout).version, 1, what);
    }
  }
});
