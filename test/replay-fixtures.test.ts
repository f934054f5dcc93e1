// Replays every committed fixture capture and checks it three ways: against the committed
// expected JSON, against the ground truth the workloads reported when the capture was
// made, and against tshark's own per-conversation count of the same file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, hasCommand, runCli } from './support/run-cli.js';
import type { UsageReport } from '../src/present/usage-report.js';
import { canonicalIp } from '../src/decode/address.js';

const PCAP_DIR = join(REPO_ROOT, 'fixtures/pcap');
const scenarios = readdirSync(PCAP_DIR)
  .filter((f) => /\.pcap(ng)?$/.test(f))
  .map((file) => ({ file, name: file.replace(/\.pcap(ng)?$/, '') }));

interface Truth {
  workloads: Array<{ name: string; pid: number; inSnapshot: boolean; captured: { sentBytes: number; receivedBytes: number; sentPackets: number; receivedPackets: number } }>;
  tshark: { totals: { packets: number; bytes: number }; categories: { other: { packets: number; bytes: number } } };
}

async function replay(name: string, file: string): Promise<UsageReport> {
  const result = await runCli(['replay', `fixtures/pcap/${file}`, '--proc-root', `fixtures/proc/${name}`, '--json']);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  return JSON.parse(result.stdout) as UsageReport;
}

test('there are fixtures to replay', () => {
  assert.ok(scenarios.length >= 5, `found ${scenarios.length}`);
});

for (const { name, file } of scenarios) {
  test(`${name}: replay gives exactly the expected JSON`, async () => {
    const expected = JSON.parse(readFileSync(join(PCAP_DIR, `${name}.expected.json`), 'utf8'));
    assert.deepEqual(await replay(name, file), expected);
  });

  test(`${name}: every workload in the snapshot gets exactly its packets and bytes, nothing is unknown`, async () => {
    const truth = JSON.parse(readFileSync(join(PCAP_DIR, `${name}.truth.json`), 'utf8')) as Truth;
    const report = await replay(name, file);
    const inSnapshot = truth.workloads.filter((w) => w.inSnapshot);
    assert.ok(inSnapshot.length > 0);
    for (const workload of inSnapshot) {
      const process = report.processes.find((p) => p.pid === workload.pid);
      assert.ok(process, `${workload.name} (pid ${workload.pid}) is missing`);
      const pick = (r: Truth['workloads'][number]['captured']) => [r.sentBytes, r.receivedBytes, r.sentPackets, r.receivedPackets];
      assert.deepEqual(pick(process), pick(workload.captured), workload.name);
    }
    assert.equal(report.processes.length, inSnapshot.length);
    assert.deepEqual([report.unknown.packets, report.unknown.bytes], [0, 0]);
    assert.deepEqual([report.totals.packets, report.totals.bytes], [truth.tshark.totals.packets, truth.tshark.totals.bytes]);
    assert.deepEqual([report.other.packets, report.other.bytes], [truth.tshark.categories.other.packets, truth.tshark.categories.other.bytes]);
  });

  test(`${name}: per direction, processes + unknown + other = captured`, async () => {
    for (const report of [await replay(name, file), JSON.parse((await runCli(['replay', `fixtures/pcap/${file}`, '--json'])).stdout) as UsageReport]) {
      for (const direction of ['sent', 'received'] as const) {
        const bytes = `${direction}Bytes` as const;
        const packets = `${direction}Packets` as const;
        const sum = (key: typeof bytes | typeof packets) =>
          report.processes.reduce((s, p) => s + p[key], 0) + report.unknown[key] + report.other[key];
        assert.equal(sum(bytes), report.totals[bytes], `${direction} bytes`);
        assert.equal(sum(packets), report.totals[packets], `${direction} packets`);
      }
      assert.equal(report.totals.bytes, report.source.bytes);
      const connectionBytes = report.connections.reduce((s, c) => s + c.sentBytes + c.receivedBytes, 0);
      assert.equal(connectionBytes, report.processes.reduce((s, p) => s + p.sentBytes + p.receivedBytes, 0) + report.unknown.bytes);
    }
  });

  test(`${name}: per-conversation frame bytes agree with tshark`, { skip: hasCommand('tshark') ? false : 'tshark is not installed (apt-get install tshark)' }, async () => {
    // tshark -z conv rounds bytes to kB, so sum frame.len per conversation from its fields
    // with the same dissection (IP reassembly off, as conv sees each frame).
    const fields = ['frame.len', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', '_ws.col.Protocol'];
    const text = execFileSync('tshark', ['-r', join(PCAP_DIR, file), '-o', 'ip.defragment:FALSE', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const theirs = new Map<string, number>();
    for (const line of text.trim().split('\n')) {
      const [len, ip4s, ip6s, ip4d, ip6d, ts, td, us, ud, column] = line.split('|');
      const protocol = ts ? 'tcp' : us ? 'udp' : '';
      if (!protocol || /ICMP/.test(column ?? '')) continue; // ICMP errors quote a UDP/TCP header; they are "other"
      const key = conversationKey(protocol, canonicalIp(ip4s || ip6s!)!, Number(ts || us), canonicalIp(ip4d || ip6d!)!, Number(td || ud));
      theirs.set(key, (theirs.get(key) ?? 0) + Number(len));
    }
    const ours = new Map<string, number>();
    for (const c of (await replay(name, file)).connections) {
      // On loopback both sockets of a conversation have a record: count the conversation once.
      ours.set(conversationKey(c.protocol, c.localAddress, c.localPort, c.remoteAddress, c.remotePort), c.sentBytes + c.receivedBytes);
    }
    assert.ok(theirs.size > 0);
    assert.deepEqual(Object.fromEntries([...ours].sort()), Object.fromEntries([...theirs].sort()));
  });
}

function conversationKey(protocol: string, a: string, aPort: number, b: string, bPort: number): string {
  const [x, y] = [`${a} ${aPort}`, `${b} ${bPort}`].sort();
  return `${protocol} ${x} <-> ${y}`;
}

test('a snapshot written by `netmeter snapshot` replays exactly like its /proc directory', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'netmeter-snap-')), 'sockets.json');
  const written = await runCli(['snapshot', '--proc-root', 'fixtures/proc/udp-mixed-veth', '-o', file]);
  assert.equal(written.code, 0, written.stderr);
  const viaSockets = await runCli(['replay', 'fixtures/pcap/udp-mixed-veth.pcapng', '--sockets', file, '--json']);
  assert.equal(viaSockets.code, 0, viaSockets.stderr);
  assert.deepEqual(JSON.parse(viaSockets.stdout), await replay('udp-mixed-veth', 'udp-mixed-veth.pcapng'));
  const broken = await runCli(['replay', 'fixtures/pcap/udp-mixed-veth.pcapng', '--sockets', 'fixtures/pcap/udp-mixed-veth.truth.json']);
  assert.equal(broken.code, 1);
  assert.equal(broken.stderr.trim().split('\n').length, 1);
});
