// The one config file: a section per feature, the 0.1.0 layout still read, and every
// problem one line that names the file and the section.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigFile } from '../src/config/config-file.js';
import { ConfigError, DEFAULT_CONFIG } from '../src/history/config.js';

const WHERE = 'config /etc/netmeter/config.json';

test('settings live in sections; a file of the 0.1.0 layout (history settings at the top) reads the same', () => {
  const sectioned = parseConfigFile({ history: { currency: 'EUR', pricePerGB: 0.5, quotaGB: 100 } }, WHERE);
  const flat = parseConfigFile({ currency: 'EUR', pricePerGB: 0.5, quotaGB: 100 }, WHERE);
  assert.deepEqual(sectioned, flat);
  assert.equal(sectioned.history.pricePerGB, 0.5);
  assert.deepEqual(parseConfigFile({}, WHERE).history, DEFAULT_CONFIG);
});

test('a bad section, an unknown one, or history settings both inside and beside "history": one line naming the file and section', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /must be a JSON object/],
    [{ histroy: {} }, /unknown section 'histroy' \(known: history, alerts, speedtest, metrics\)/],
    [{ history: { pricePerGB: -1 } }, /^config \/etc\/netmeter\/config.json: history: pricePerGB must be a number of at least 0 \(got -1\)$/],
    [{ history: 'cheap' }, /history: must be a JSON object/],
    [{ pricePerGB: 1, history: { currency: 'EUR' } }, /put pricePerGB inside "history", not beside it/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseConfigFile(value, WHERE), (e: Error) => e instanceof ConfigError && message.test(e.message) && !e.message.includes('\n'), JSON.stringify(value));
  }
});
