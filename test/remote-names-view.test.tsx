// Host names on the live screen: the connections and hosts views show a connection's
// remoteName (with its port) where one is known and the address elsewhere, 'n' switches to
// addresses and back, the filter finds a host by name, and '?' says where names come from
// and what reverse lookups tell a resolver.

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, render } from 'ink-testing-library';
import { LiveApp } from '../src/present/live/live-app.js';
import { LiveFeedStore } from '../src/present/live/live-feed.js';
import { connectionRows, hostRows, type RowOptions } from '../src/present/live/view-rows.js';
import type { ConnectionUsage, UsageReport } from '../src/present/usage-report.js';
import { NAMES_FROM } from '../src/resolve/remote-names.js';

afterEach(() => cleanup());

function connection(localPort: number, remoteAddress: string, remoteName: string | undefined, receivedBytes: number): ConnectionUsage {
  return {
    protocol: 'tcp', localAddress: '198.18.1.1', localPort, remoteAddress, remotePort: 443, pid: 42, name: 'curl',
    sentBytes: 0, receivedBytes, sentPackets: 0, receivedPackets: 1, packets: 1, sentRate: 0, receivedRate: receivedBytes,
    ...(remoteName ? { remoteName } : {}),
  };
}

const bucket = { packets: 0, bytes: 0, sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0 };
const REPORT: UsageReport = {
  version: 1,
  source: { kind: 'live', interfaces: ['eth0'], packets: 0, bytes: 0 },
  durationSeconds: 10,
  totals: { ...bucket },
  processes: [{ pid: 42, name: 'curl', cmdline: 'curl', user: 'alice', sentBytes: 0, receivedBytes: 3000, sentPackets: 0, receivedPackets: 3, sentRate: 0, receivedRate: 3000 }],
  connections: [connection(5001, '198.18.0.10', 'www.shop.test', 2000), connection(5002, '198.18.0.10', 'www.shop.test', 500), connection(5003, 'fd00::30', undefined, 400)],
  unknown: { ...bucket },
  other: { ...bucket, byReason: {} },
  interfaces: [],
  retiredConnections: 0,
};

const options = (names: boolean, filter = ''): RowOptions => ({ sort: 'total', measure: 'total', filter, names });

test('rows show the name and port where one is known, the address where not, and addresses with names off', () => {
  assert.deepEqual(connectionRows(REPORT, options(true)).map((r) => r.remote), ['www.shop.test:443', 'www.shop.test:443', '[fd00::30]:443']);
  assert.deepEqual(connectionRows(REPORT, options(false)).map((r) => r.remote), ['198.18.0.10:443', '198.18.0.10:443', '[fd00::30]:443']);
  // Row keys stay the addresses: a name learnt later does not move the selection or the row.
  assert.deepEqual(connectionRows(REPORT, options(true)).map((r) => r.key), connectionRows(REPORT, options(false)).map((r) => r.key));
  assert.deepEqual(hostRows(REPORT, options(true)).map((h) => [h.key, h.remoteName, h.connections]), [['198.18.0.10', 'www.shop.test', 2], ['fd00::30', null, 1]]);
  assert.deepEqual(hostRows(REPORT, options(false)).map((h) => h.remoteName), [null, null]);
  assert.deepEqual(hostRows(REPORT, options(false, 'shop')).map((h) => h.key), ['198.18.0.10'], 'the filter finds a host by name, names shown or not');
});

test("the hosts and connections views show names; 'n' switches to addresses and back; '?' says where names come from", async () => {
  const feed = new LiveFeedStore({ report: REPORT, elapsedSeconds: 10, intervalSeconds: 1 });
  const app = render(<LiveApp feed={feed} onQuit={() => undefined} namesFrom={NAMES_FROM} initialState={{ view: 'hosts' }} />);
  const frame = () => app.lastFrame() ?? '';
  // Ink handles input and renders asynchronously: wait for the frame a key causes (as test/live-app.test.tsx does).
  const settle = async (before: number) => {
    const deadline = Date.now() + 1500;
    while (app.frames.length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const press = async (key: string) => {
    const before = app.frames.length;
    app.stdin.write(key);
    await settle(before);
  };
  await settle(0);
  assert.match(frame(), /www\.shop\.test/);
  assert.doesNotMatch(frame(), /198\.18\.0\.10/);
  assert.match(frame(), /fd00::30/);
  await press('n');
  assert.match(frame(), /198\.18\.0\.10/);
  assert.doesNotMatch(frame(), /www\.shop\.test/);
  await press('n');
  await press('3');
  assert.match(frame(), /www\.shop\.test:443/);
  await press('?');
  const help = frame().replace(/\s+/g, ' ');
  assert.match(help, /n remote hosts by name ↔ by address/);
  assert.match(help, /Host names from DNS answers seen in the capture/);
  assert.match(help, /reverse lookups — which tell your DNS resolver the hosts you talk to/);
});
