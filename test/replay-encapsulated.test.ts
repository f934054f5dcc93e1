// The link layers and header shapes that real captures from elsewhere hold and Linux
// namespaces cannot make (PPPoE sessions behind VLAN tags, BSD loopback in either byte
// order, IPv4 with total length 0, IPv6 chains with several fragment headers at offset 0):
// fixtures/encapsulated/, made by make-fixtures.sh from the packets of the real veth
// captures. Each is replayed as committed and rewritten into every container (pcap and
// pcapng, both byte orders), and held to tshark: its committed per-packet view, and tshark
// run again on every rewritten file when it is installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCaptureFile } from '../src/capture/open-capture-file.js';
import { canonicalIp } from '../src/decode/address.js';
import type { UsageReport } from '../src/present/usage-report.js';
import { pcapFile, pcapngFile, type TestPacket } from './support/capture-files.js';
import { REPO_ROOT, hasCommand, runCli } from './support/run-cli.js';

const DIR = join(REPO_ROOT, 'fixtures/encapsulated');
const LOCAL = '198.18.0.1/32,fd00::1/128';
const CLASSES = ['pppoe', 'pppoe-sll2', 'null-le', 'null-be', 'loop', 'tso', 'ipv6-ext'];
const files = readdirSync(DIR).filter((f) => /\.pcap(ng)?$/.test(f));
const tmp = mkdtempSync(join(tmpdir(), 'netmeter-encapsulated-'));
const noTshark = hasCommand('tshark') ? false : 'tshark is not installed (apt-get install tshark)';

/** What tshark makes of a capture, in the columns make-fixtures.sh writes to C.tshark.tsv. */
interface TsharkView {
  conversations: Record<string, { packets: number; bytes: number }>;
  other: { packets: number; bytes: number };
  total: { packets: number; bytes: number };
}

function tsharkFields(file: string): string {
  const fields = ['frame.len', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'frame.protocols'];
  return execFileSync('tshark', ['-r', file, '-n', '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

function tsharkView(tsv: string): TsharkView {
  const view: TsharkView = { conversations: {}, other: { packets: 0, bytes: 0 }, total: { packets: 0, bytes: 0 } };
  for (const line of tsv.split('\n').filter(Boolean)) {
    const [len, ip4s, ip6s, ip4d, ip6d, ts, td, us, ud, protocols] = line.split('\t');
    const bytes = Number(len);
    view.total.packets++;
    view.total.bytes += bytes;
    const protocol = ts ? 'tcp' : us ? 'udp' : '';
    // ICMP errors quote a TCP/UDP header; netmeter counts them as other, as it does fragments.
    if (!protocol || /:icmp(v6)?\b/.test(protocols ?? '')) {
      view.other.packets++;
      view.other.bytes += bytes;
      continue;
    }
    const key = conversationKey(protocol, canonicalIp(ip4s || ip6s!)!, Number(ts || us), canonicalIp(ip4d || ip6d!)!, Number(td || ud));
    const c = (view.conversations[key] ??= { packets: 0, bytes: 0 });
    c.packets++;
    c.bytes += bytes;
  }
  return view;
}

function conversationKey(protocol: string, a: string, aPort: number, b: string, bPort: number): string {
  const [x, y] = [`${a} ${aPort}`, `${b} ${bPort}`].sort();
  return `${protocol} ${x} <-> ${y}`;
}

/** netmeter's report in the same shape as tshark's view. */
function reportView(report: UsageReport): TsharkView {
  const conversations: TsharkView['conversations'] = {};
  for (const c of report.connections) {
    conversations[conversationKey(c.protocol, c.localAddress, c.localPort, c.remoteAddress, c.remotePort)] = { packets: c.sentPackets + c.receivedPackets, bytes: c.sentBytes + c.receivedBytes };
  }
  return { conversations, other: { packets: report.other.packets, bytes: report.other.bytes }, total: { packets: report.totals.packets, bytes: report.totals.bytes } };
}

const sorted = (view: TsharkView) => ({ ...view, conversations: Object.fromEntries(Object.entries(view.conversations).sort()) });

async function replay(file: string): Promise<UsageReport> {
  const result = await runCli(['replay', file, '--local', LOCAL, '--json']);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  return JSON.parse(result.stdout) as UsageReport;
}

/** The committed file's packets, as the rewrites need them. */
async function packetsOf(file: string): Promise<{ linkType: number; packets: TestPacket[] }> {
  const source = await openCaptureFile(file);
  const packets: TestPacket[] = [];
  let linkType = -1;
  for await (const b of source.batches()) {
    for (let i = 0; i < b.count; i++) {
      linkType = b.interfaces[b.interfaceIndex[i]!]!.linkType;
      packets.push({ data: Buffer.from(b.data.subarray(b.offset[i]!, b.offset[i]! + b.capturedLength[i]!)), wireLength: b.wireLength[i]!, ts: b.timestamp[i]! });
    }
  }
  return { linkType, packets };
}

test('every class has its fixture', () => {
  assert.deepEqual(files.map((f) => f.replace(/\.pcap(ng)?$/, '')).sort(), [...CLASSES].sort());
});

for (const file of files) {
  const name = file.replace(/\.pcap(ng)?$/, '');
  const committedView = tsharkView(readFileSync(join(DIR, `${name}.tshark.tsv`), 'utf8'));

  test(`${name}: replay gives exactly the expected JSON`, async () => {
    const expected = JSON.parse(readFileSync(join(DIR, `${name}.expected.json`), 'utf8'));
    assert.deepEqual(await replay(`fixtures/encapsulated/${file}`), expected);
  });

  test(`${name}: every TCP/UDP conversation, and what is other, agrees with tshark packet for packet`, async () => {
    const view = committedView;
    // The class must hold what it is for: TCP and UDP, over IPv4 and IPv6 (IPv4 only where
    // the class is IPv4's), and something that is neither.
    const keys = Object.keys(view.conversations);
    assert.ok(keys.some((k) => k.startsWith('tcp')) && keys.some((k) => k.startsWith('udp')), keys.join(', '));
    assert.ok(keys.some((k) => k.includes('fd00::')) && keys.some((k) => k.includes('198.18.')), keys.join(', '));
    assert.ok(view.other.packets > 0);
    assert.deepEqual(sorted(reportView(await replay(`fixtures/encapsulated/${file}`))), sorted(view));
  });

  test(`${name}: written as pcap and pcapng in both byte orders, each replays alike and tshark agrees`, async () => {
    const { linkType, packets } = await packetsOf(join(DIR, file));
    const baseline = reportView(await replay(`fixtures/encapsulated/${file}`));
    const variants: Array<[string, Buffer]> = [
      ['le.pcap', pcapFile(linkType, packets)],
      ['be-nanos.pcap', pcapFile(linkType, packets, { bigEndian: true, nanos: true })],
      ['le.pcapng', pcapngFile([{ type: 'interface', linkType }, ...packets.map((packet) => ({ type: 'enhanced' as const, packet }))])],
      ['be.pcapng', pcapngFile([{ type: 'interface', linkType, tsresol: 9 }, ...packets.map((packet) => ({ type: 'enhanced' as const, packet }))], { bigEndian: true })],
    ];
    for (const [suffix, bytes] of variants) {
      const path = join(tmp, `${name}.${suffix}`);
      writeFileSync(path, bytes);
      assert.deepEqual(sorted(reportView(await replay(path))), sorted(baseline), suffix);
      if (!noTshark) assert.deepEqual(sorted(tsharkView(tsharkFields(path))), sorted(committedView), `tshark on ${suffix}`);
    }
  });

  test(`${name}: the committed tshark view is what this tshark says`, { skip: noTshark }, () => {
    assert.deepEqual(sorted(tsharkView(tsharkFields(join(DIR, file)))), sorted(committedView));
  });
}

test('LOOP with its family little-endian (not what tshark reads) replays like the big-endian file', async () => {
  // tshark takes LOOP's family as big-endian only; writers on little-endian hosts disagree,
  // so netmeter reads both orders for LOOP as for NULL: the same packets, the same report.
  const { linkType, packets } = await packetsOf(join(DIR, 'loop.pcapng'));
  const swapped = packets.map((p) => {
    const data = Buffer.from(p.data);
    data.writeUInt32LE(data.readUInt32BE(0), 0);
    return { ...p, data };
  });
  const path = join(tmp, 'loop-le-family.pcap');
  writeFileSync(path, pcapFile(linkType, swapped));
  assert.deepEqual(sorted(reportView(await replay(path))), sorted(reportView(await replay('fixtures/encapsulated/loop.pcapng'))));
});
