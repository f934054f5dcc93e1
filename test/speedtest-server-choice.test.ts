// Choosing the server: LibreSpeed server lists (parsing, protocol-relative URLs), the
// lowest-latency entry that answers, and the public defaults with their fallback — all
// against local servers standing in for the public ones, which tests never contact.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseServerList } from '../src/speedtest/server-choice.js';
import { runSpeedtest, type SpeedtestRequest } from '../src/speedtest/run.js';
import { startSpeedtestServer } from '../src/speedtest/server.js';
import type { SpeedtestResult } from '../src/speedtest/result.js';
import { runCli } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';
import { QUICK_METHOD, answerLibrespeedBasics, refusedPort, startStandIn } from './support/speedtest-stand-ins.js';

const latencyOnly = (server: SpeedtestRequest['server']): SpeedtestRequest => ({ server, method: QUICK_METHOD, pingCount: 2, download: false, upload: false, packetLoss: false, stallMs: 3000 });

test('a LibreSpeed server list: protocol-relative servers become https, missing paths take LibreSpeed\'s defaults', () => {
  const list = parseServerList(JSON.stringify([
    { id: 1, name: 'Amsterdam', server: '//ams.example.net/backend/', dlURL: 'garbage.php', ulURL: 'empty.php', pingURL: 'empty.php', getIpURL: 'getIP.php', sponsorName: 'x' },
    { name: '', server: 'http://198.18.0.9:8080/' },
  ]), 'list');
  assert.equal(list[0]!.server.href, 'https://ams.example.net/backend/');
  assert.equal(list[0]!.name, 'Amsterdam');
  assert.deepEqual(list[1]!.paths, { dlURL: 'garbage.php', ulURL: 'empty.php', pingURL: 'empty.php', getIpURL: 'getIP.php' });
  assert.equal(list[1]!.name, '198.18.0.9:8080', 'no name: the host');
  assert.throws(() => parseServerList('{', 'list f.json'), /^ConfigError: list f\.json is not valid JSON \(.*\): it must be a LibreSpeed server list$/);
  assert.throws(() => parseServerList('[]', 'list f.json'), /must be a non-empty JSON list/);
  assert.throws(() => parseServerList('[{"server": "ftp://x/"}]', 'list f.json'), /server 1: server 'ftp:\/\/x\/' is not http:\/\/ or https:\/\//);
});

test('--servers: the lowest-latency server that answers is chosen (a refused one and a slow one are passed over)', async () => {
  const fast = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false });
  const slow = await startStandIn((req, res) => {
    if (!answerLibrespeedBasics(req, res, 80)) res.writeHead(404).end();
  });
  const refused = await refusedPort();
  try {
    const text = JSON.stringify([
      { name: 'refused', server: `http://127.0.0.1:${refused}/` },
      { name: 'slow', server: slow.url },
      { name: 'fast', server: `//127.0.0.1:${fast.address.port}/`.replace('//', 'http://') },
    ]);
    const r = await runSpeedtest(latencyOnly({ serverList: { text, where: 'test list' }, defaults: { server: 'http://127.0.0.1:1/', serverList: 'http://127.0.0.1:1/' }, selectionPings: 3 }));
    assert.equal(r.status, 'complete', r.error ?? '');
    assert.equal(r.server.name, 'fast');
    assert.equal(r.server.chosenFrom, 'list');
    assert.equal(r.server.protocol, 'librespeed');
    const none = await runSpeedtest(latencyOnly({ serverList: { text: JSON.stringify([{ name: 'r', server: `http://127.0.0.1:${refused}/` }, { name: 'r2', server: `http://127.0.0.1:${refused}/x/` }]), where: 'test list' }, defaults: { server: 'http://127.0.0.1:1/', serverList: 'http://127.0.0.1:1/' }, selectionPings: 1 }));
    assert.equal(none.status, 'failed');
    assert.match(none.error!, /^none of the 2 servers answered \(first: connection refused by 127\.0\.0\.1:\d+/);
  } finally {
    await fast.close();
    await slow.close();
  }
});

test('no URL: the default endpoint (Cloudflare-style) when it answers, else the default LibreSpeed list, else one line', async () => {
  const netmeter = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false });
  const listServer = await startStandIn((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ name: 'listed', server: `http://127.0.0.1:${netmeter.address.port}/backend/` }]));
  });
  const refused = await refusedPort();
  try {
    const primary = await runSpeedtest(latencyOnly({ defaults: { server: `http://127.0.0.1:${netmeter.address.port}/`, serverList: `http://127.0.0.1:${refused}/` }, selectionPings: 1 }));
    assert.equal(primary.status, 'complete', primary.error ?? '');
    assert.equal(primary.server.protocol, 'cloudflare');
    assert.equal(primary.server.chosenFrom, 'default');

    const fallback = await runSpeedtest(latencyOnly({ defaults: { server: `http://127.0.0.1:${refused}/`, serverList: `${listServer.url}servers.php` }, selectionPings: 1 }));
    assert.equal(fallback.status, 'complete', fallback.error ?? '');
    assert.equal(fallback.server.name, 'listed');
    assert.equal(fallback.server.protocol, 'librespeed');
    assert.equal(fallback.server.chosenFrom, 'default');

    const neither = await runSpeedtest(latencyOnly({ defaults: { server: `http://127.0.0.1:${refused}/`, serverList: `http://127.0.0.1:${refused}/servers.php` }, selectionPings: 1 }));
    assert.equal(neither.status, 'failed');
    assert.match(neither.error!, /^no default server answered \(127\.0\.0\.1:\d+: connection refused .*; then: connection refused .*\): give a server URL$/);
  } finally {
    await netmeter.close();
    await listServer.close();
  }
});

test('CLI: --servers FILE and --default-server/--default-server-list', async () => {
  const netmeter = await startSpeedtestServer({ host: '127.0.0.1', port: 0, udp: false });
  const dir = tempDir('speed-list');
  const refused = await refusedPort();
  try {
    const file = join(dir.dir, 'servers.json');
    writeFileSync(file, JSON.stringify([{ name: 'mine', server: `http://127.0.0.1:${netmeter.address.port}/` }]));
    const listed = await runCli(['speedtest', '--servers', file, '--json', '--no-upload', '--max-time', '0.3s', '--pings', '2']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal((JSON.parse(listed.stdout) as SpeedtestResult).server.name, 'mine');
    const defaults = await runCli(['speedtest', '--json', '--no-upload', '--max-time', '0.3s', '--default-server', `http://127.0.0.1:${refused}/`, '--default-server-list', `http://127.0.0.1:${refused}/list`]);
    assert.equal(defaults.code, 1);
    assert.match(defaults.stderr, /^netmeter: speed test failed: no default server answered .*\n$/);
    const missing = await runCli(['speedtest', '--servers', join(dir.dir, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^netmeter: cannot read the server list .*nope\.json \(ENOENT\)\n$/);
  } finally {
    await netmeter.close();
    dir.remove();
  }
});
