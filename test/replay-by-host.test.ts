// `replay --by host`: a provider's capture (a mirror port, a router's inside interface)
// accounted per subscriber, checked against tshark's own reading of the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, hasCommand, runCli } from './support/run-cli.js';

// Two hosts on a veth pair, UDP over IPv4 and IPv6 (fd00::1, fd00::2), plus neighbour
// discovery and multicast (no local end) and ARP (not IP): fixtures/pcap/README.md.
const FILE = join(REPO_ROOT, 'fixtures/pcap/udp-mixed-veth.pcapng');
const LOCAL = '198.18.0.0/15,fd00::/8';

interface Row {
  host?: string;
  pid: number | null;
  sentBytes: number;
  receivedBytes: number;
}

/**
 * Per local address, the bytes of the TCP and UDP frames it sent and received, as tshark
 * reads the file. Only TCP and UDP have owners, subscribers too; the neighbour discovery
 * between the two hosts (ICMPv6) counts in "other" (docs/design.md, subscribers).
 */
function tsharkPerAddress(): Map<string, { sent: number; received: number }> {
  const result = spawnSync('tshark', ['-r', FILE, '-Y', 'tcp or udp', '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'frame.len'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const local = (address: string) => address.startsWith('198.18.') || address.startsWith('198.19.') || /^fd/i.test(address);
  const totals = new Map<string, { sent: number; received: number }>();
  const entry = (address: string) => totals.get(address) ?? totals.set(address, { sent: 0, received: 0 }).get(address)!;
  for (const line of result.stdout.trimEnd().split('\n')) {
    const [ip4src, ip4dst, ip6src, ip6dst, length] = line.split('\t');
    const src = ip4src || ip6src;
    const dst = ip4dst || ip6dst;
    if (src && local(src)) entry(src).sent += Number(length);
    if (dst && local(dst)) entry(dst).received += Number(length);
  }
  return totals;
}

async function replayByHost(...more: string[]): Promise<{ by?: string; processes: Row[] }> {
  const result = await runCli(['replay', FILE, '--by', 'host', '--local', LOCAL, '--json', ...more]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as { by?: string; processes: Row[] };
}

test('replay --by host credits each subscriber the bytes tshark counts for its address', { skip: !hasCommand('tshark') && 'needs tshark' }, async () => {
  const truth = tsharkPerAddress();
  assert.deepEqual([...truth.keys()].sort(), ['198.18.0.1', '198.18.0.2', 'fd00::1', 'fd00::2']);
  // /128: every IPv6 address a subscriber of its own, to compare address by address.
  const report = await replayByHost('--ipv6-prefix', '128');
  assert.equal(report.by, 'host');
  const rows = new Map(report.processes.map((row) => [row.host, row]));
  for (const [address, bytes] of truth) {
    const row = rows.get(address);
    assert.ok(row, `a row for ${address}`);
    assert.equal(row.pid, null, 'a subscriber has no pid');
    assert.deepEqual({ sent: row.sentBytes, received: row.receivedBytes }, bytes, address);
  }
  assert.equal(rows.size, truth.size, 'no other subscriber');
});

test('replay --by host groups IPv6 subscribers by /64 by default', { skip: !hasCommand('tshark') && 'needs tshark' }, async () => {
  const truth = tsharkPerAddress();
  const report = await replayByHost();
  const prefix = report.processes.find((row) => row.host === 'fd00::/64');
  assert.ok(prefix, `fd00::/64 in ${JSON.stringify(report.processes.map((row) => row.host))}`);
  assert.equal(prefix.sentBytes, truth.get('fd00::1')!.sent + truth.get('fd00::2')!.sent);
  assert.equal(prefix.receivedBytes, truth.get('fd00::1')!.received + truth.get('fd00::2')!.received);
});

test('replay --by host without --local is a usage error', async () => {
  const result = await runCli(['replay', FILE, '--by', 'host']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^netmeter: --by host needs --local: the subscribers' networks/);
});
