// End to end, as root, in network namespaces of the test's own: a router namespace forwards
// for three subscriber namespaces (IPv4 and IPv6, each its own /64; the first with two
// addresses in it) to an "internet" namespace, without and with MASQUERADE on its uplink.
// `netmeter daemon --by host` on the router's inside interface credits each subscriber with
// exactly the bytes a tcpdump of the same interface counts for its address (its /64), and
// `report --by host` and a scrape of --metrics agree with it. Behind the MASQUERADE, a
// capture on the uplink says in one line to capture on the inside interface.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryReport } from '../src/history/report-document.js';
import { CLI, hasCommand, runCli } from './support/run-cli.js';
import { ProcGroup, liveSkipReason, randomPorts, sleep, tempDir, waitExit, type Proc } from './support/live-harness.js';

const skip = liveSkipReason(['ip', 'tcpdump', 'tshark', 'iptables', 'ip6tables', 'curl']);
const tag = `subs${process.pid % 1000}`;
const ROUTER = `${tag}r`;
const NET = `${tag}i`;
const SUBS = [1, 2, 3].map((k) => ({ k, ns: `${tag}${k}`, v4: `198.18.1.${10 + k}`, v6: [`fd00:1:0:${k}::2`, ...(k === 1 ? ['fd00:1:0:1::3'] : [])], host6: `fd00:1:0:${k}::/64` }));
const BRIDGE = `${tag}br`;
const UPLINK = `${tag}u`;
const LOCAL = '198.18.1.0/24,fd00:1::/48';
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const inNs = (ns: string, ...command: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...command], { stdio: 'pipe', encoding: 'utf8' });

function buildNetwork(): void {
  for (const ns of [ROUTER, NET, ...SUBS.map((s) => s.ns)]) ip('netns', 'add', ns);
  ip('-n', ROUTER, 'link', 'add', BRIDGE, 'type', 'bridge');
  ip('-n', ROUTER, 'link', 'set', BRIDGE, 'up');
  ip('-n', ROUTER, 'addr', 'add', '198.18.1.1/24', 'dev', BRIDGE);
  for (const s of SUBS) {
    ip('-n', ROUTER, 'addr', 'add', `fd00:1:0:${s.k}::1/64`, 'dev', BRIDGE, 'nodad');
    const port = `${tag}p${s.k}`;
    ip('link', 'add', port, 'netns', ROUTER, 'type', 'veth', 'peer', 'name', `${tag}s${s.k}`, 'netns', s.ns);
    ip('-n', ROUTER, 'link', 'set', port, 'master', BRIDGE, 'up');
    ip('-n', s.ns, 'link', 'set', 'lo', 'up');
    ip('-n', s.ns, 'addr', 'add', `${s.v4}/24`, 'dev', `${tag}s${s.k}`);
    for (const a of s.v6) ip('-n', s.ns, 'addr', 'add', `${a}/64`, 'dev', `${tag}s${s.k}`, 'nodad');
    ip('-n', s.ns, 'link', 'set', `${tag}s${s.k}`, 'up');
    ip('-n', s.ns, 'route', 'add', 'default', 'via', '198.18.1.1');
    ip('-n', s.ns, '-6', 'route', 'add', 'default', 'via', `fd00:1:0:${s.k}::1`);
  }
  ip('link', 'add', UPLINK, 'netns', ROUTER, 'type', 'veth', 'peer', 'name', `${tag}w`, 'netns', NET);
  ip('-n', ROUTER, 'addr', 'add', '198.18.9.1/24', 'dev', UPLINK);
  ip('-n', ROUTER, 'addr', 'add', 'fd00:9::1/64', 'dev', UPLINK, 'nodad');
  ip('-n', ROUTER, 'link', 'set', UPLINK, 'up');
  ip('-n', ROUTER, 'link', 'set', 'lo', 'up');
  ip('-n', NET, 'addr', 'add', '198.18.9.2/24', 'dev', `${tag}w`);
  ip('-n', NET, 'addr', 'add', 'fd00:9::2/64', 'dev', `${tag}w`, 'nodad');
  ip('-n', NET, 'link', 'set', `${tag}w`, 'up');
  ip('-n', NET, 'link', 'set', 'lo', 'up');
  // Without MASQUERADE the internet routes the subscribers' networks back to the router.
  ip('-n', NET, 'route', 'add', '198.18.1.0/24', 'via', '198.18.9.1');
  ip('-n', NET, '-6', 'route', 'add', 'fd00:1::/48', 'via', 'fd00:9::1');
  inNs(ROUTER, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  inNs(ROUTER, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
}

function removeNetwork(): void {
  for (const ns of [ROUTER, NET, ...SUBS.map((s) => s.ns)]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not made
    }
  }
}

/** The internet: UDP datagrams starting with 1 get one back twice their size; a TCP client gets three times what it sent. */
const SERVER = `
  const dgram = require('dgram'), net = require('net');
  const [udpPort, tcpPort] = process.argv.slice(1).map(Number);
  let ready = 0; const up = () => { if (++ready === 3) console.log('ready'); };
  for (const type of ['udp4', 'udp6']) {
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    s.on('message', (m, r) => { if (m[0] === 1) s.send(Buffer.alloc(m.length * 2, 2), r.port, r.address); });
    s.bind(udpPort, type === 'udp4' ? '0.0.0.0' : '::', up);
  }
  net.createServer((c) => { let n = 0; c.on('data', (d) => (n += d.length)); c.on('end', () => c.end(Buffer.alloc(n * 3))); c.on('error', () => {}); }).listen(tcpPort, '::', up);`;

/** A subscriber: UDP (some asking for a reply) and TCP over IPv4 and IPv6 from each of its addresses, sizes by k; and one datagram to the next subscriber. */
const CLIENT = `
  const dgram = require('dgram'), net = require('net');
  const [k, udpPort, tcpPort] = process.argv.slice(1, 4).map(Number);
  const [v4, neighbour, ...v6] = process.argv.slice(4);
  const udp = (type, from, to, count, size) => new Promise((resolve) => {
    const s = dgram.createSocket(type);
    let replies = 0, sent = 0;
    const wanted = Math.ceil(count / 2);
    const done = () => { clearTimeout(timer); s.close(); resolve(); };
    const timer = setTimeout(done, 3000);
    s.on('message', () => { if (++replies === wanted) done(); });
    s.bind(0, from, () => { for (let i = 0; i < count; i++) s.send(Buffer.alloc(size, i % 2 === 0 ? 1 : 0), udpPort, to, () => { if (++sent === count && wanted === 0) done(); }); });
  });
  const tcp = (from, to, bytes) => new Promise((resolve, reject) => {
    const c = net.connect({ host: to, port: tcpPort, localAddress: from }, () => c.end(Buffer.alloc(bytes, 7)));
    c.on('data', () => {}); c.on('end', resolve); c.on('error', reject);
  });
  (async () => {
    await udp('udp4', v4, '198.18.9.2', 6, 100 * k);
    await tcp(v4, '198.18.9.2', 5000 * k);
    for (const a of v6) { await udp('udp6', a, 'fd00:9::2', 4, 150 * k); await tcp(a, 'fd00:9::2', 3000 * k); }
    await udp('udp4', v4, neighbour, 1, 60);
    console.log('done');
  })().catch((e) => { console.error(e); process.exit(1); });`;

/**
 * Sent and received wire bytes per subscriber, from tshark reading the tcpdump file: TCP
 * and UDP only (the rest is "other"), and not ICMP errors, which tshark's "udp" matches for
 * the datagram they quote.
 */
function tcpdumpBySubscriber(file: string): Map<string, { sent: number; received: number }> {
  const out = execFileSync('tshark', ['-r', file, '-Y', '(tcp or udp) and not icmp and not icmpv6', '-T', 'fields', '-E', 'separator=,', '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst'], { encoding: 'utf8' });
  const totals = new Map<string, { sent: number; received: number }>();
  // Worked out from the plan, not by netmeter's grouping: fd00:1:0:K:... is subscriber K's /64.
  const subscriberOf = (address: string) => {
    const v6 = /^fd00:1:0:(\d):/.exec(address);
    if (v6) return `fd00:1:0:${v6[1]}::/64`;
    return address.startsWith('198.18.1.') && address !== '198.18.1.1' ? address : undefined;
  };
  const add = (address: string, field: 'sent' | 'received', bytes: number) => {
    const host = subscriberOf(address);
    if (!host) return;
    const t = totals.get(host) ?? { sent: 0, received: 0 };
    t[field] += bytes;
    totals.set(host, t);
  };
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const [len, src4, dst4, src6, dst6] = line.split(',');
    const src = src4 || src6!;
    const dst = dst4 || dst6!;
    add(src, 'sent', Number(len));
    add(dst, 'received', Number(len));
  }
  return totals;
}

/** The scrape's subscriber counters on the interface, per host. */
function scrapeBySubscriber(text: string, iface: string): Map<string, { sent: number; received: number }> {
  const totals = new Map<string, { sent: number; received: number }>();
  for (const m of text.matchAll(/^netmeter_subscriber_(sent|received)_bytes_total\{host="([^"]+)",interface="([^"]+)"\} (\d+)$/gm)) {
    if (m[3] !== iface) continue;
    const t = totals.get(m[2]!) ?? { sent: 0, received: 0 };
    t[m[1] as 'sent' | 'received'] += Number(m[4]);
    totals.set(m[2]!, t);
  }
  return totals;
}

const sorted = (m: Map<string, { sent: number; received: number }>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

async function round(masquerade: boolean): Promise<void> {
  const group = new ProcGroup();
  const tmp = tempDir('subs');
  const [udpPort, tcpPort, metricsPort] = randomPorts(3);
  try {
    buildNetwork();
    if (masquerade) {
      inNs(ROUTER, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', UPLINK, '-j', 'MASQUERADE');
      inNs(ROUTER, 'ip6tables', '-t', 'nat', '-A', 'POSTROUTING', '-o', UPLINK, '-j', 'MASQUERADE');
      // Nothing routes back to the subscribers: only the MASQUERADE brings replies home.
      ip('-n', NET, 'route', 'del', '198.18.1.0/24');
      ip('-n', NET, '-6', 'route', 'del', 'fd00:1::/48');
    }
    const server = group.spawn('server', 'ip', ['netns', 'exec', NET, process.execPath, '-e', SERVER, String(udpPort), String(tcpPort)]);
    await server.stdout.waitFor((l) => l === 'ready', 'the server');

    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ metrics: { subscribers: { enabled: true, max: 100 } }, history: { subscribers: [{ host: '198.18.1.11', quotaGB: 1 }, { host: 'fd00:1::/48', quotaGB: 2 }] } }));
    const db = join(tmp.dir, 'netmeter.db');
    const daemon = group.spawn('daemon', 'ip', ['netns', 'exec', ROUTER, process.execPath, CLI, 'daemon', '-i', BRIDGE, '--by', 'host', '--local', LOCAL,
      '--db', db, '--config', config, '--flush-interval', '1s', '--metrics', `127.0.0.1:${metricsPort}`]);
    await daemon.stderr.waitFor((l) => l.includes('per subscriber (--by host)'), 'the recording line');
    const pcap = join(tmp.dir, 'inside.pcap');
    const tcpdump = group.spawn('tcpdump', 'ip', ['netns', 'exec', ROUTER, 'tcpdump', '-i', BRIDGE, '-n', '--immediate-mode', '-U', '-s', '256', '-B', '32768', '-w', pcap]);
    await tcpdump.stderr.waitFor((l) => l.includes('listening on'), 'tcpdump');
    // Behind the MASQUERADE, a capture on the uplink sees every subscriber as the router.
    const uplink: Proc | undefined = masquerade
      ? group.spawn('uplink', 'ip', ['netns', 'exec', ROUTER, process.execPath, CLI, '-i', UPLINK, '--by', 'host', '--local', LOCAL, '--jsonl', '--no-resolve'])
      : undefined;
    if (uplink) await uplink.stdout.waitFor((l) => l.startsWith('{'), 'the uplink capture');

    for (const s of SUBS) {
      const neighbour = SUBS[s.k % 3]!.v4;
      const client = group.spawn(`client${s.k}`, 'ip', ['netns', 'exec', s.ns, process.execPath, '-e', CLIENT, String(s.k), String(udpPort), String(tcpPort), s.v4, neighbour, ...s.v6]);
      assert.equal(await waitExit(client, 30_000), 0, client.stderr.all);
    }
    if (uplink) {
      await uplink.stderr.waitFor((l) => l.includes('behind a NAT uplink every subscriber shares one address; capture on the inside interface'), 'the NAT advice');
      assert.match(uplink.stderr.all, /this host's own address 198\.18\.9\.1/);
      process.kill(uplink.pid, 'SIGINT');
      await waitExit(uplink, 10_000);
    }
    await sleep(1500); // the last packets reach both captures
    process.kill(tcpdump.pid, 'SIGINT');
    assert.equal(await waitExit(tcpdump, 10_000), 0, tcpdump.stderr.all);
    const truth = tcpdumpBySubscriber(pcap);
    assert.equal(truth.size, 6, `three IPv4 subscribers and three /64s (the first of two addresses), as tcpdump counts: ${JSON.stringify(sorted(truth))}`);

    // The exporter reads the meter live: it agrees once the capture has handed everything over.
    let scraped = new Map<string, { sent: number; received: number }>();
    const deadline = Date.now() + 15_000;
    for (;;) {
      const text = inNs(ROUTER, 'curl', '-sf', `http://127.0.0.1:${metricsPort}/metrics`);
      scraped = scrapeBySubscriber(text, BRIDGE);
      if (JSON.stringify(sorted(scraped)) === JSON.stringify(sorted(truth)) || Date.now() > deadline) break;
      await sleep(500);
    }
    assert.deepEqual(sorted(scraped), sorted(truth), 'the metrics credit each subscriber what tcpdump counts for it');

    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 20_000), 0, daemon.stderr.all);
    const result = await runCli(['report', '--db', db, '--config', config, '--by', 'host', '--json', '--interface', BRIDGE]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as HistoryReport;
    const fromReport = new Map(report.rows.filter((r) => r.host).map((r) => [r.host!, { sent: r.sentBytes, received: r.receivedBytes }]));
    assert.deepEqual(sorted(fromReport), sorted(truth), 'report --by host credits each subscriber what tcpdump counts for it');
    assert.equal(report.rows.filter((r) => !r.host).reduce((sum, r) => sum + r.totalBytes, 0), 0, 'nothing of no subscriber on the inside interface');
    // Each planned subscriber has its own billing period: the /48 plan covers each /64 on its own.
    const billed = new Map(report.subscriberBilling!.map((b) => [b.host, b]));
    assert.equal(billed.get('198.18.1.11')?.quotaBytes, 1e9);
    assert.equal(billed.get('198.18.1.11')?.usedBytes, truth.get('198.18.1.11')!.sent + truth.get('198.18.1.11')!.received);
    for (const s of SUBS) assert.equal(billed.get(s.host6)?.quotaBytes, 2e9, `${s.host6} under the fd00:1::/48 plan`);
    assert.ok(!billed.has('198.18.1.12'), 'a subscriber no plan names is not billed');
    const table = await runCli(['report', '--db', db, '--config', config, '--by', 'host']);
    assert.match(table.stdout, /SUBSCRIBER/);
    assert.match(table.stdout, /198\.18\.1\.11 +used .* of 953\.7 MiB \(0\.0%\)/);
  } finally {
    await group.cleanup();
    if (process.env.SUBS_KEEP) console.error(tmp.dir); else tmp.remove();
    removeNetwork();
  }
}

test('subscribers behind a router without NAT: daemon --by host, report --by host and the metrics equal tcpdump per subscriber', { skip: skip ?? false, timeout: 120_000 }, async () => {
  await round(false);
});

test('subscribers behind a MASQUERADE uplink: counted exactly on the inside interface; the uplink capture says to capture inside', { skip: skip ?? (hasCommand('iptables') ? false : 'needs iptables'), timeout: 120_000 }, async () => {
  await round(true);
});
