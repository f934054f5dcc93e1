// The host name cache (src/resolve/host-names.ts) and reverse lookups
// (src/resolve/reverse-lookups.ts) on a fake clock and a fake resolver: DNS answers win over
// PTRs, TTLs bounded and refreshed by use, the cache bounded; lookups rate-limited, bounded
// in flight, only for addresses without a name, misses remembered; and the labels a
// report's connections get (src/resolve/remote-names.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostNames } from '../src/resolve/host-names.js';
import { ReverseLookups, cleanName, type ReverseResolver } from '../src/resolve/reverse-lookups.js';
import type { ConnectionUsage, UsageReport } from '../src/present/usage-report.js';
import { RemoteNames } from '../src/resolve/remote-names.js';

class FakeClock {
  ms = 1000;
  monotonic(): number {
    return this.ms;
  }
}

/** Answers each lookup when the test says so; records what was asked. */
class FakeResolver implements ReverseResolver {
  readonly asked: string[] = [];
  private readonly waiting = new Map<string, { resolve: (names: string[]) => void; reject: (e: Error) => void }>();
  reverse(address: string): Promise<string[]> {
    this.asked.push(address);
    return new Promise((resolve, reject) => this.waiting.set(address, { resolve, reject }));
  }
  async answer(address: string, names: string[] | Error): Promise<void> {
    const w = this.waiting.get(address);
    assert.ok(w, `${address} was asked`);
    this.waiting.delete(address);
    if (names instanceof Error) w.reject(names);
    else w.resolve(names);
    // The lookup's then/finally run on the microtask queue.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

test('a DNS answer names an address; a reverse lookup never replaces it, but names an address it does not know', () => {
  const names = new HostNames({ clock: new FakeClock() });
  names.learnAnswer('198.18.0.1', 'api.example.test', 30);
  names.learnReverse('198.18.0.1', 'edge-7.cdn.test', 3600);
  assert.equal(names.name('198.18.0.1'), 'api.example.test');
  names.learnReverse('198.18.0.2', 'ptr.test', 3600);
  assert.equal(names.name('198.18.0.2'), 'ptr.test');
  names.learnAnswer('198.18.0.2', 'asked.test', 30);
  assert.equal(names.name('198.18.0.2'), 'asked.test', 'a DNS answer replaces a PTR name');
  names.learnReverse('198.18.0.3', null, 300);
  assert.equal(names.name('198.18.0.3'), undefined);
  assert.ok(names.has('198.18.0.3'), 'a miss is remembered');
});

test('TTLs: raised to the floor, capped, and a name in use stays past its TTL', () => {
  const clock = new FakeClock();
  const names = new HostNames({ clock, minTtlSeconds: 60, maxTtlSeconds: 3600 });
  names.learnAnswer('198.18.0.1', 'short.test', 5); // raised to 60 s
  names.learnAnswer('198.18.0.2', 'long.test', 86_400); // capped at 1 h
  names.learnAnswer('198.18.0.3', 'used.test', 60);
  clock.ms += 59_000;
  assert.equal(names.name('198.18.0.1'), 'short.test');
  assert.equal(names.name('198.18.0.3'), 'used.test');
  clock.ms += 2_000;
  assert.equal(names.name('198.18.0.3'), 'used.test', 'asked 2 s ago: its age started again');
  assert.equal(names.name('198.18.0.1'), 'short.test', 'asked at 59 s: kept');
  clock.ms += 61_000;
  assert.equal(names.name('198.18.0.3'), undefined, 'not asked for 61 s: gone');
  clock.ms = 1000 + 3_600_000 + 1;
  assert.equal(names.name('198.18.0.2'), undefined, 'a day-long TTL is kept an hour');
});

test('the cache is bounded: the least recently used address leaves first', () => {
  const names = new HostNames({ clock: new FakeClock(), maxEntries: 3 });
  for (let i = 1; i <= 3; i++) names.learnAnswer(`198.18.0.${i}`, `h${i}.test`, 60);
  names.name('198.18.0.1');
  names.learnAnswer('198.18.0.4', 'h4.test', 60);
  assert.equal(names.size, 3);
  assert.equal(names.name('198.18.0.2'), undefined);
  assert.equal(names.name('198.18.0.1'), 'h1.test');
});

test('label() sets remoteName only where a name is known (IPv4-mapped by its IPv4 name)', () => {
  const names = new HostNames({ clock: new FakeClock() });
  names.learnAnswer('198.18.0.1', 'a.test', 60);
  const connection = (remoteAddress: string): ConnectionUsage => ({ protocol: 'tcp', localAddress: '198.18.1.1', localPort: 5000, remoteAddress, remotePort: 443, pid: 1, name: 'curl', sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0, packets: 0 });
  const connections = [connection('198.18.0.1'), connection('::ffff:198.18.0.1'), connection('198.18.0.9')];
  names.label(connections);
  assert.deepEqual(connections.map((c) => c.remoteName), ['a.test', 'a.test', undefined]);
  assert.ok(!('remoteName' in connections[2]!), 'absent, not undefined-valued: the JSON has no field');
});

test('reverse lookups: rate-limited per second, bounded in flight, never for named or pending addresses; misses remembered', async () => {
  const clock = new FakeClock();
  const names = new HostNames({ clock });
  const resolver = new FakeResolver();
  const lookups = new ReverseLookups(names, { clock, resolver, perSecond: 3, maxInFlight: 2, missTtlSeconds: 300 });
  names.learnAnswer('198.18.0.1', 'answered.test', 60);
  lookups.want(['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.2']);
  assert.deepEqual(resolver.asked, ['198.18.0.2', '198.18.0.3'], 'two in flight at most; the named one is not asked');
  await resolver.answer('198.18.0.2', ['PTR-Two.Test.']);
  assert.deepEqual(resolver.asked, ['198.18.0.2', '198.18.0.3', '198.18.0.4'], 'a finished lookup starts the next');
  assert.equal(names.name('198.18.0.2'), 'ptr-two.test');
  await resolver.answer('198.18.0.3', Object.assign(new Error('queryPtr ENOTFOUND'), { code: 'ENOTFOUND' }));
  await resolver.answer('198.18.0.4', []);
  assert.equal(lookups.counts.named, 1);
  assert.equal(lookups.counts.unnamed, 2);
  // Three started in this second: the rate is used up until the clock moves.
  lookups.want(['198.18.0.5']);
  assert.equal(resolver.asked.length, 3);
  clock.ms += 1000;
  lookups.want(['198.18.0.3', '198.18.0.5']);
  assert.deepEqual(resolver.asked.slice(3), ['198.18.0.5'], 'a remembered miss is not asked again within its TTL');
  await resolver.answer('198.18.0.5', ['five.test']);
  clock.ms += 301_000;
  lookups.want(['198.18.0.3']);
  assert.deepEqual(resolver.asked.slice(4), ['198.18.0.3'], 'asked again once the miss expired');
  lookups.close();
});

test('want() replaces the queue: hosts no longer shown are not looked up', () => {
  const clock = new FakeClock();
  const resolver = new FakeResolver();
  const lookups = new ReverseLookups(new HostNames({ clock }), { clock, resolver, perSecond: 1, maxInFlight: 4 });
  lookups.want(['198.18.0.1', '198.18.0.2']);
  clock.ms += 1000;
  lookups.want(['198.18.0.3']);
  assert.deepEqual(resolver.asked, ['198.18.0.1', '198.18.0.3']);
});

test('PTR names are cleaned as DNS answers are: lower case, no root dot, odd characters escaped', () => {
  assert.equal(cleanName('Host.Example.TEST.'), 'host.example.test');
  assert.equal(cleanName('a\u001b[1mb.test'), 'a\\027\\0911mb.test');
});

test('RemoteNames looks up a shown host only when it is still unnamed a report later, and never a named one', async () => {
  const clock = new FakeClock();
  const resolver = new FakeResolver();
  const remote = new RemoteNames({ clock, resolver, open: () => Promise.reject(new Error('unused')) });
  const report = (...addresses: string[]) =>
    ({ connections: addresses.map((remoteAddress, i) => ({ protocol: 'tcp', localAddress: '198.18.1.1', localPort: 5000 + i, remoteAddress, remotePort: 443, pid: 1, name: 'curl', sentBytes: 0, receivedBytes: 0, sentPackets: 0, receivedPackets: 0, packets: 0 })) }) as unknown as UsageReport;
  remote.label(report('198.18.0.1', '198.18.0.2'));
  assert.deepEqual(resolver.asked, [], 'first seen: no lookup yet');
  remote.names.learnAnswer('198.18.0.2', 'late-answer.test', 60);
  const second = report('198.18.0.1', '198.18.0.2');
  remote.label(second);
  assert.deepEqual(resolver.asked, ['198.18.0.1'], 'the host a late DNS answer named is not looked up');
  assert.equal(second.connections[1]!.remoteName, 'late-answer.test');
  await resolver.answer('198.18.0.1', ['one.test']);
  const third = report('198.18.0.1');
  remote.label(third);
  assert.equal(third.connections[0]!.remoteName, 'one.test');
  const atEnd = report('198.18.0.3');
  remote.label(atEnd, false);
  remote.label(report('198.18.0.3'), false);
  assert.equal(resolver.asked.length, 1, 'label(report, false) asks for nothing');
  await remote.close();
});

test('a stopping netmeter does not wait for reverse lookups: the real Resolver, pointed at a server that never answers, is cancelled', { timeout: 5000 }, async () => {
  const { createSocket } = await import('node:dgram');
  const { Resolver } = await import('node:dns/promises');
  // A UDP socket on loopback that reads questions and never answers.
  const silent = createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  const asked = new Promise<void>((resolve) => silent.once('message', () => resolve()));
  const resolver = new Resolver({ timeout: 60_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${silent.address().port}`]);
  const clock = new FakeClock();
  const names = new HostNames({ clock });
  const lookups = new ReverseLookups(names, { clock, resolver });
  lookups.want(['198.18.0.7']);
  await asked;
  assert.equal(lookups.inFlight, 1);
  lookups.close();
  // Cancelled lookups reject at once; without cancel() this would wait the 60 s timeout.
  while (lookups.inFlight > 0) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(names.has('198.18.0.7'), false, 'a cancelled lookup is not remembered as a miss');
  silent.close();
});
