// The config file's `metrics` section and --metrics' address: good values read as meant,
// every bad one a one-line ConfigError naming the file, the key and what to write.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigFile } from '../src/config/config-file.js';
import { ConfigError } from '../src/history/config.js';
import { DEFAULT_METRICS_CONFIG, formatListenAddress, parseListenAddress } from '../src/metrics/metrics-config.js';

const WHERE = 'config /etc/netmeter/config.json';

test('a metrics section: listen, topApplications, basicAuth and tls; defaults without one', () => {
  assert.deepEqual(parseConfigFile({}, WHERE).metrics, DEFAULT_METRICS_CONFIG);
  assert.equal(DEFAULT_METRICS_CONFIG.topApplications, 20);
  assert.equal(DEFAULT_METRICS_CONFIG.listen, undefined, 'nothing is served unless asked');
  const config = parseConfigFile({
    metrics: {
      listen: '[::1]:9417', topApplications: 5,
      basicAuth: { user: 'prometheus', passwordFile: '/etc/netmeter/metrics-password' },
      tls: { certFile: '/etc/netmeter/metrics.crt', keyFile: '/etc/netmeter/metrics.key' },
      subscribers: { enabled: true, max: 50 },
    },
  }, WHERE).metrics;
  assert.deepEqual(config, {
    listen: { host: '::1', port: 9417 }, topApplications: 5,
    basicAuth: { user: 'prometheus', passwordFile: '/etc/netmeter/metrics-password' },
    tls: { certFile: '/etc/netmeter/metrics.crt', keyFile: '/etc/netmeter/metrics.key' },
    subscribers: { enabled: true, max: 50 },
  });
  assert.deepEqual(DEFAULT_METRICS_CONFIG.subscribers, { enabled: false, max: 1000 }, 'per-subscriber series are opt-in');
});

test('listen addresses: IPv4, bracketed IPv6, a host name, a bare port (loopback)', () => {
  const cases: Array<[string, string, number]> = [
    ['127.0.0.1:9417', '127.0.0.1', 9417],
    ['0.0.0.0:9417', '0.0.0.0', 9417],
    ['[::]:1', '::', 1],
    ['[fd00::5]:65535', 'fd00::5', 65535],
    ['localhost:9417', 'localhost', 9417],
    ['9417', '127.0.0.1', 9417],
  ];
  for (const [text, host, port] of cases) {
    assert.deepEqual(parseListenAddress(text, '--metrics'), { host, port }, text);
  }
  assert.equal(formatListenAddress({ host: '::1', port: 80 }), '[::1]:80');
  assert.equal(formatListenAddress({ host: '127.0.0.1', port: 80 }), '127.0.0.1:80');
});

test('bad values: one line naming the file, the key and what is expected', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ metrics: 'on' }, /metrics: must be a JSON object like/],
    [{ metrics: { port: 9417 } }, /metrics: unknown setting 'port' \(known: listen, topApplications, basicAuth, tls, subscribers\)/],
    [{ metrics: { listen: 9417 } }, /metrics: listen must be an address and port like "127.0.0.1:9417" \(got 9417\)/],
    [{ metrics: { listen: ':9417' } }, /metrics: listen: no address \(got ":9417"\); give ADDRESS:PORT like 127.0.0.1:9417, \[::1\]:9417, or 0.0.0.0:9417 for every interface/],
    [{ metrics: { listen: '127.0.0.1:99999' } }, /the port must be a number from 1 to 65535/],
    [{ metrics: { listen: '127.0.0.1:0' } }, /the port must be a number from 1 to 65535/],
    [{ metrics: { listen: '127.0.0.1' } }, /listen: no port/],
    [{ metrics: { listen: '::1:9417' } }, /an IPv6 address goes in brackets/],
    [{ metrics: { listen: '[nope]:9417' } }, /'nope' is not an IPv6 address/],
    [{ metrics: { listen: 'bad host!:9417' } }, /'bad host!' is not an address or host name/],
    [{ metrics: { topApplications: -1 } }, /topApplications must be a whole number from 0 to 10000 \(got -1\)/],
    [{ metrics: { topApplications: 2.5 } }, /topApplications must be a whole number/],
    [{ metrics: { basicAuth: 'prometheus:secret' } }, /basicAuth must be an object like \{"user"/],
    [{ metrics: { basicAuth: { user: 'p', password: 'secret' } } }, /unknown basicAuth setting 'password' \(known: user, passwordFile\)/],
    [{ metrics: { basicAuth: { user: '', passwordFile: '/x' } } }, /basicAuth.user must be a non-empty name without ':'/],
    [{ metrics: { basicAuth: { user: 'a:b', passwordFile: '/x' } } }, /basicAuth.user must be a non-empty name without ':'/],
    [{ metrics: { basicAuth: { user: 'p' } } }, /basicAuth.passwordFile must be a file path \(got undefined\)/],
    [{ metrics: { tls: { certFile: '/c' } } }, /tls.keyFile must be a file path/],
    [{ metrics: { tls: { certFile: '/c', keyFile: '/k', ca: '/x' } } }, /unknown tls setting 'ca'/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseConfigFile(value, WHERE), (e: Error) => {
      assert.ok(e instanceof ConfigError, `${JSON.stringify(value)}: ${e.name}`);
      assert.match(e.message, message, JSON.stringify(value));
      assert.ok(e.message.startsWith(`${WHERE}: metrics`), e.message);
      assert.ok(!e.message.includes('\n'), e.message);
      return true;
    });
  }
});
