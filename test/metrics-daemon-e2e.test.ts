// End to end, as root: `netmeter daemon -i lo --metrics` serves /metrics while a workload
// moves known bytes over 127.0.0.1, and a real Prometheus (Debian's) scrapes it every
// second. A scrape taken while the traffic runs passes `promtool check metrics`; after the
// traffic stops, the raw samples Prometheus stored for the application (an instant query
// at a quiet time, not increase(), which extrapolates) equal `netmeter report --json` to
// the byte, and with "(unknown)" the tcpdump of the same traffic. Then the bad inputs: a
// taken port, an address not on this host, an unreadable password file, a malformed
// --metrics; and basic auth.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { HistoryReport } from '../src/history/report-document.js';
import { REPO_ROOT, hasCommand, runCli } from './support/run-cli.js';
import {
  ProcGroup, liveSkipReason, randomPorts, readCapture, signalGo, sleep, startTcpdump, startWorkload, tempDir, usageOf,
  waitConnections, waitDone, waitExit, waitForPacketSocket, type Usage,
} from './support/live-harness.js';
import { freeLoopbackPort, startPrometheus, type InstantSample } from './support/prometheus-server.js';

const skip = liveSkipReason(['prometheus', 'promtool', 'tcpdump', 'tshark']);

async function report(db: string, config: string): Promise<HistoryReport> {
  const result = await runCli(['report', '--db', db, '--config', config, '--json']);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as HistoryReport;
}

const COUNTERS: Array<[keyof Usage, string]> = [
  ['sentBytes', 'netmeter_application_sent_bytes_total'],
  ['receivedBytes', 'netmeter_application_received_bytes_total'],
  ['sentPackets', 'netmeter_application_sent_packets_total'],
  ['receivedPackets', 'netmeter_application_received_packets_total'],
];

const sumOf = (samples: InstantSample[]) => samples.reduce((sum, s) => sum + Number(s.value[1]), 0);

test('Prometheus scrapes the daemon: a busy scrape passes promtool; the stored counters equal report --json and tcpdump to the byte', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('metrics-e2e');
  try {
    const db = join(tmp.dir, 'netmeter.db');
    const [port] = randomPorts(1, 12000, 18000) as [number];
    const metricsPort = await freeLoopbackPort();
    const reference = await startTcpdump(group, 'lo', join(tmp.dir, 'reference.pcap'), `port ${port}`);
    // A price and a quota: the billing gauges are served too (the dashboard shows them).
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ history: { pricePerGB: 2, currency: 'EUR', quotaGB: 1, interfaces: ['lo'] } }));
    const daemon = group.netmeter('daemon', ['daemon', '-i', 'lo', '--filter', `port ${port}`, '--db', db, '--config', config, '--flush-interval', '1s', '--metrics', `127.0.0.1:${metricsPort}`]);
    await waitForPacketSocket(daemon);
    await daemon.stderr.waitFor((l) => l.includes(`serving metrics at 127.0.0.1:${metricsPort}/metrics`), 'the "serving metrics" line');
    const target = `127.0.0.1:${metricsPort}`;
    const prometheus = await startPrometheus(group, join(tmp.dir), { targets: [target], labels: { region: 'test' }, ruleFiles: [join(REPO_ROOT, 'docs', 'fleet', 'rules.yml')] });
    const deadline = Date.now() + 20_000;
    while ((await prometheus.query(`up{instance="${target}"}`))[0]?.value[1] !== '1') {
      assert.ok(Date.now() < deadline, 'Prometheus scrapes the daemon (up == 1) within 20 s');
      await sleep(250);
    }

    const goFile = join(tmp.dir, 'go');
    const server = await startWorkload(group, 'tcp-server', 'tcp-server', ['--bind', '127.0.0.1', '--port', String(port), '--send', '3000000', '--expect', '1000000', '--go-file', goFile]);
    const client = await startWorkload(group, 'tcp-client', 'tcp-client', ['--connect', '127.0.0.1', '--port', String(port), '--send', '1000000', '--expect', '3000000', '--go-file', goFile]);
    await waitConnections(server, 1);
    await sleep(1500); // a /proc read finds both sockets before their data (as in history-daemon-e2e)
    signalGo(goFile);

    // A scrape of the daemon while it counts: promtool finds nothing to say.
    const busy = await (await fetch(`http://${target}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: busy, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    assert.equal(check.stdout + check.stderr, '', 'promtool has no remark on a busy scrape');
    for (const name of ['netmeter_application_sent_bytes_total', 'netmeter_interface_kernel_received_bytes_total', 'netmeter_connections_active', 'process_cpu_seconds_total', 'process_resident_memory_bytes']) {
      assert.match(busy, new RegExp(`^${name}`, 'm'), `the scrape has ${name}`);
    }
    assert.doesNotMatch(busy, /pid=/, 'never a PID label');

    await Promise.all([waitDone(server), waitDone(client)]);
    const doneAt = Date.now() / 1000;
    await reference.stop();

    // A quiet time: Prometheus's latest sample and the report were both taken at least two
    // scrapes and two flushes after the last packet.
    let samples: Record<string, InstantSample[]> = {};
    for (;;) {
      await sleep(500);
      const up = await prometheus.query(`up{instance="${target}"}`);
      if ((up[0]?.value[0] ?? 0) > doneAt + 2.5) break;
      assert.ok(Date.now() / 1000 < doneAt + 20, 'a scrape after the traffic within 20 s');
    }
    const quiet = Date.now() / 1000;
    for (const [, name] of COUNTERS) {
      samples[name] = await prometheus.query(`${name}{instance="${target}"}`, quiet);
    }
    const stored = (app: string, name: string) => sumOf(samples[name]!.filter((s) => s.metric.app === app));
    const after = await report(db, config);
    const node = after.rows.find((r) => r.app === 'node');
    assert.ok(node, `node is in the report: ${JSON.stringify(after.rows)}`);
    const unknown = after.rows.find((r) => r.app === '(unknown)');
    for (const [field, name] of COUNTERS) {
      assert.equal(stored('node', name), node[field], `${name}{app="node"} in Prometheus vs report --json ${field}`);
      assert.equal(stored('(unknown)', name), unknown?.[field] ?? 0, `${name}{app="(unknown)"} vs report`);
    }
    assert.ok(node.sentBytes > 4_000_000, `the workload's bytes are node's: ${JSON.stringify(node)}`);
    // Every packet of the reference was sent by one of the two node sockets and received by the other.
    const packets = await readCapture(join(tmp.dir, 'reference.pcap'));
    const truth = [usageOf(packets, server), usageOf(packets, client)].reduce((a, b) => ({
      sentBytes: a.sentBytes + b.sentBytes, receivedBytes: a.receivedBytes + b.receivedBytes,
      sentPackets: a.sentPackets + b.sentPackets, receivedPackets: a.receivedPackets + b.receivedPackets,
    }));
    for (const [field, name] of COUNTERS) {
      assert.equal(stored('node', name) + stored('(unknown)', name), truth[field], `${name}: node + (unknown) in Prometheus vs tcpdump`);
    }
    // No series outside node and (unknown): nothing was folded.
    assert.deepEqual([...new Set(samples.netmeter_application_sent_bytes_total!.map((s) => s.metric.app))].sort().filter((a) => a !== '(unknown)'), ['node']);

    // The billing period, as the report computes it (its flushes are in the database by now).
    // lo's kernel counters also count Prometheus's own scrapes, so the period only grows: the
    // report, read after the scrape, has at least as much.
    const [used] = await prometheus.query(`netmeter_billing_period_used_bytes{instance="${target}"}`, quiet);
    const [cost] = await prometheus.query(`netmeter_billing_period_cost{instance="${target}"}`, quiet);
    const usedBytes = Number(used?.value[1]);
    assert.ok(usedBytes > 4_000_000 && usedBytes <= after.billing!.usedBytes, `billing used bytes ${usedBytes}, report ${after.billing?.usedBytes}`);
    assert.equal(cost?.metric.currency, 'EUR');
    assert.ok(Math.abs(Number(cost!.value[1]) - (usedBytes / 1e9) * 2) < 1e-12, `cost ${cost!.value[1]} for ${usedBytes} bytes at 2 EUR/GB`);
    const [quota] = await prometheus.query(`netmeter_billing_quota_bytes{instance="${target}"}`, quiet);
    assert.equal(Number(quota?.value[1]), 1e9);

    // Every query of the Grafana dashboard runs without error, and those on what the
    // daemon serves today return data (the speed test's metrics come later).
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'docs', 'fleet', 'grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; query: { query: string } }> };
    };
    const queries: Array<[string, string]> = [];
    for (const panel of dashboard.panels) for (const t of panel.targets ?? []) queries.push([panel.title, t.expr]);
    for (const v of dashboard.templating.list) {
      const selector = /^label_values\((.*),\s*\w+\)$/.exec(v.query.query)?.[1];
      assert.ok(selector, `variable ${v.name}: a label_values(SELECTOR, LABEL) query`);
      queries.push([`variable ${v.name}`, selector]);
    }
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    for (const [title, expr] of queries) {
      const concrete = expr.replaceAll('$__rate_interval', '30s').replaceAll('$__range', '1m').replaceAll('$region', '.*').replaceAll('$instance', '.*');
      assert.doesNotMatch(concrete, /\$/, `${title}: every variable substituted`);
      const answer = await prometheus.queryRaw(concrete);
      assert.equal(answer.status, 'success', `${title}: ${concrete}: ${answer.error}`);
      if (!/speedtest|_plan_/.test(expr)) assert.ok(answer.data!.result.length > 0, `${title}: ${concrete} returns data`);
    }
    // The rules of rules.yml load and evaluate on this server without error.
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    assert.equal(all.length, 11, 'every rule of rules.yml is loaded');
    for (const r of all) assert.notEqual(r.health, 'err', `${r.name}: ${r.lastError}`);

    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 15_000), 0, `daemon exit code; stderr:\n${daemon.stderr.all}`);
    await prometheus.stop();
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});

test('bad input: a taken port, an address not on this host, a malformed --metrics, an unreadable password file: one line each', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const tmp = tempDir('metrics-bad');
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
  try {
    const takenPort = (taken.address() as { port: number }).port;
    const db = join(tmp.dir, 'netmeter.db');
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ metrics: { listen: '127.0.0.1:9', basicAuth: { user: 'prometheus', passwordFile: join(tmp.dir, 'missing') } } }));
    const cases: Array<[string[], number, RegExp]> = [
      [['--metrics', `127.0.0.1:${takenPort}`], 1, new RegExp(`^netmeter: cannot serve metrics on 127\\.0\\.0\\.1:${takenPort}: the port is in use .*choose another port with --metrics ADDRESS:PORT$`)],
      [['--metrics', '198.18.0.77:9417'], 1, /^netmeter: cannot serve metrics on 198\.18\.0\.77:9417: no interface of this host has that address/],
      [['--metrics', '127.0.0.1:http'], 2, /^netmeter: --metrics: the port must be a number from 1 to 65535 \(got "127\.0\.0\.1:http"\)/],
      [['--config', config], 1, new RegExp(`^netmeter: config ${config.replace(/[.]/g, '\\.')}: metrics: cannot read basicAuth\\.passwordFile .*missing \\(ENOENT\\)$`)],
    ];
    for (const [args, code, message] of cases) {
      const result = await runCli(['daemon', '-i', 'lo', '--filter', 'port 9', '--db', db, ...args]);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      const lines = result.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('Try '));
      assert.equal(lines.length, 1, `${args.join(' ')}: one line: ${result.stderr}`);
      assert.match(lines[0]!, message, args.join(' '));
    }
  } finally {
    taken.close();
    tmp.remove();
  }
});

test('basic auth: no or wrong credentials get 401, the right ones the metrics', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('metrics-auth');
  try {
    const metricsPort = await freeLoopbackPort();
    const password = join(tmp.dir, 'password');
    writeFileSync(password, 's3cret: "quoted"\n');
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ metrics: { listen: `127.0.0.1:${metricsPort}`, basicAuth: { user: 'prometheus', passwordFile: password } } }));
    const daemon = group.netmeter('daemon', ['daemon', '-i', 'lo', '--filter', 'port 9', '--db', join(tmp.dir, 'db'), '--config', config]);
    await daemon.stderr.waitFor((l) => l.includes('serving metrics at'), 'the "serving metrics" line');
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    const basic = (text: string) => ({ Authorization: `Basic ${Buffer.from(text).toString('base64')}` });
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: basic('prometheus:wrong') })).status, 401);
    assert.equal((await fetch(url, { headers: basic('someone:s3cret: "quoted"') })).status, 401);
    const ok = await fetch(url, { headers: basic('prometheus:s3cret: "quoted"') });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /^netmeter_connections_active /m);
    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 15_000), 0, daemon.stderr.all);
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});

test('TLS: the metrics over HTTPS with the configured certificate; a key that is no key is one line, exit 1', { skip: skip ?? (hasCommand('openssl') ? false : 'needs openssl'), timeout: 60_000 }, async () => {
  const group = new ProcGroup();
  const tmp = tempDir('metrics-tls');
  try {
    const cert = join(tmp.dir, 'metrics.crt');
    const key = join(tmp.dir, 'metrics.key');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=netmeter test', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const metricsPort = await freeLoopbackPort();
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ metrics: { listen: `127.0.0.1:${metricsPort}`, tls: { certFile: cert, keyFile: key } } }));
    const daemon = group.netmeter('daemon', ['daemon', '-i', 'lo', '--filter', 'port 9', '--db', join(tmp.dir, 'db'), '--config', config]);
    await daemon.stderr.waitFor((l) => l.includes(`serving metrics at https://127.0.0.1:${metricsPort}/metrics`), 'the "serving metrics" line');
    // Verified against the certificate itself: the server presents it, for 127.0.0.1.
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet({ host: '127.0.0.1', port: metricsPort, path: '/metrics', ca: readFileSync(cert) }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => (response.statusCode === 200 ? resolve(text) : reject(new Error(`status ${response.statusCode}`))));
      }).on('error', reject);
    });
    assert.match(body, /^netmeter_connections_active /m);
    const plain = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.status, () => 'refused');
    assert.notEqual(plain, 200, 'no plain HTTP on the TLS port');
    process.kill(daemon.pid, 'SIGTERM');
    assert.equal(await waitExit(daemon, 15_000), 0, daemon.stderr.all);

    writeFileSync(key, 'not a key\n');
    const bad = await runCli(['daemon', '-i', 'lo', '--filter', 'port 9', '--db', join(tmp.dir, 'db'), '--config', config]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^netmeter: config .*config\.json: metrics: the TLS certificate or key cannot be used \(.*\); give a PEM certificate in tls.certFile and its PEM private key in tls.keyFile\n$/);
    assert.doesNotMatch(bad.stderr, /recording/, 'refused before any capture started');
  } finally {
    await group.cleanup();
    tmp.remove();
  }
});
