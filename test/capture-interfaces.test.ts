import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import {
  CaptureDeviceError,
  defaultCaptureInterfaces,
  interfaceExists,
  interfaceIsUp,
  listInterfaces,
  resolveCaptureInterfaces,
} from '../src/capture/capture-interfaces.js';

const sysRoot = await mkdtemp(join(tmpdir(), 'netmeter-sys-class-net-'));

async function fakeInterface(name: string, flags: string, operstate: string, bridgePort = false): Promise<void> {
  await mkdir(join(sysRoot, name), { recursive: true });
  await writeFile(join(sysRoot, name, 'flags'), `${flags}\n`);
  await writeFile(join(sysRoot, name, 'operstate'), `${operstate}\n`);
  if (bridgePort) {
    await mkdir(join(sysRoot, name, 'brport'));
    await writeFile(join(sysRoot, name, 'brport', 'state'), '3\n');
  }
}

function address(addr: string, internal = false): NetworkInterfaceInfo {
  const v6 = addr.includes(':');
  return v6
    ? { address: addr, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal, cidr: `${addr}/64`, scopeid: 0 }
    : { address: addr, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal, cidr: `${addr}/24` };
}

// The flags are the kernel's hex IFF_* words: 0x1003 = UP|BROADCAST|MULTICAST, 0x9 = UP|LOOPBACK.
await fakeInterface('lo', '0x9', 'unknown');
await fakeInterface('eth0', '0x1003', 'up');
await fakeInterface('wlan0', '0x1003', 'up');
await fakeInterface('eth1', '0x1002', 'down');
await fakeInterface('docker0', '0x1003', 'down');
await fakeInterface('veth7', '0x1003', 'up', true);
await fakeInterface('tun0', '0x10d1', 'unknown');
await fakeInterface('br0', '0x1003', 'up');

const addresses: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [address('127.0.0.1', true), address('::1', true)],
  eth0: [address('198.18.0.2'), address('fe80::1')],
  wlan0: [address('fe80::2')], // link-local only: carries no traffic of this host's
  eth1: [address('198.18.1.2')], // administratively down
  docker0: [address('198.18.2.1')], // no carrier
  veth7: [address('198.18.3.2')], // a bridge port: br0 sees the same packets
  tun0: [address('fd00::7')],
  br0: [address('198.18.3.1')],
  ghost: [address('198.18.4.1')], // gone from /sys between the two reads
};

test('the default set: up, with an address beyond IPv6 link-local, not loopback, not a bridge port', () => {
  assert.deepEqual(defaultCaptureInterfaces(addresses, sysRoot), ['eth0', 'tun0', 'br0']);
});

test('requested names are checked against the kernel, duplicates dropped, order kept', () => {
  assert.deepEqual(resolveCaptureInterfaces(['wlan0', 'lo', 'wlan0', 'eth1'], sysRoot), ['wlan0', 'lo', 'eth1']);
  assert.deepEqual(resolveCaptureInterfaces(['any'], sysRoot), ['any']);
  assert.deepEqual(resolveCaptureInterfaces([], sysRoot, addresses), ['eth0', 'tun0', 'br0']);
});

test('an unknown name is a one-line CaptureDeviceError listing the interfaces there are', () => {
  assert.throws(
    () => resolveCaptureInterfaces(['eth0', 'eth9'], sysRoot),
    (error: unknown) => {
      assert.ok(error instanceof CaptureDeviceError);
      assert.equal(error.device, 'eth9');
      assert.equal(error.message, "no such interface 'eth9' (available: br0, docker0, eth0, eth1, lo, tun0, veth7, wlan0)");
      return true;
    },
  );
  assert.throws(() => resolveCaptureInterfaces(['../../etc'], sysRoot), CaptureDeviceError);
});

test('with nothing requested and nothing up, the error says so and lists the interfaces', () => {
  assert.throws(() => resolveCaptureInterfaces([], sysRoot, { lo: addresses.lo }), {
    name: 'CaptureDeviceError',
    message: /^no interface is up with an address; name one to capture on \(available: br0, .*wlan0\)$/,
  });
});

test('existence and up-ness come from /sys', () => {
  assert.deepEqual(listInterfaces(sysRoot), ['br0', 'docker0', 'eth0', 'eth1', 'lo', 'tun0', 'veth7', 'wlan0']);
  assert.equal(interfaceExists('eth1', sysRoot), true);
  assert.equal(interfaceIsUp('eth1', sysRoot), false);
  assert.equal(interfaceIsUp('docker0', sysRoot), true); // up, though without carrier
  assert.equal(interfaceExists('ghost', sysRoot), false);
  assert.deepEqual(listInterfaces(join(sysRoot, 'missing')), []);
});

test('on this machine: lo resolves, and the default set names existing non-loopback interfaces', () => {
  assert.deepEqual(resolveCaptureInterfaces(['lo']), ['lo']);
  const defaults = defaultCaptureInterfaces();
  assert.ok(!defaults.includes('lo'));
  for (const name of defaults) assert.ok(existsSync(join('/sys/class/net', name)), name);
});
