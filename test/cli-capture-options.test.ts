// The capture options that `netmeter` (live), `record` and `daemon` share: declared once,
// so each command lists them in its help and turns a bad value into the same one-line
// usage error, before any capture starts or any file is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { liveCaptureOptions } from '../src/cli/capture-options.js';
import { parseCidrList } from '../src/cli/options.js';
import { UsageError } from '../src/cli/usage-error.js';
import { runCli } from './support/run-cli.js';
import { tempDir } from './support/live-harness.js';

test('liveCaptureOptions: parsed values become LiveCaptureOptions', () => {
  assert.deepEqual(liveCaptureOptions({ interface: ['lo', 'eth0'], filter: 'tcp', engine: 'cap', promisc: true, local: '198.18.0.0/15, fd00::/8' }), {
    interfaces: ['lo', 'eth0'],
    engine: 'cap',
    promisc: true,
    filter: 'tcp',
    localCidrs: parseCidrList('198.18.0.0/15,fd00::/8'),
  });
  assert.deepEqual(liveCaptureOptions({ interface: [], promisc: false, filter: '' }), { interfaces: [], engine: undefined, promisc: false, localCidrs: [] });
  assert.equal(liveCaptureOptions({ interface: [], promisc: false, local: '10.0.0.0/8,' }).localCidrs.length, 1);
  assert.throws(() => liveCaptureOptions({ interface: [], promisc: false, engine: 'pcap' }), new UsageError("--engine: 'pcap' is not one of native, cap"));
  assert.throws(() => liveCaptureOptions({ interface: [], promisc: false, local: '10.0.0.0/40' }), /^UsageError: --local: '10\.0\.0\.0\/40' is not an address or CIDR/);
});

for (const command of ['live', 'record', 'daemon']) {
  test(`${command}: a bad --engine or --local is one usage line, before anything is captured or written`, async () => {
    const tmp = tempDir('cli-capture-options');
    try {
      const file = join(tmp.dir, 'out');
      const args = { live: ['live', '--duration', '1s'], record: ['record', '-o', file], daemon: ['daemon', '--db', file] }[command]!;
      const cases: Array<[string[], string]> = [
        [['--engine', 'pcap'], "netmeter: --engine: 'pcap' is not one of native, cap"],
        [['--local', 'nope,10.0.0.0/8'], "netmeter: --local: 'nope' is not an address or CIDR (e.g. 198.18.0.0/15,fd00::/8)"],
      ];
      for (const [bad, line] of cases) {
        const result = await runCli([...args, '-i', 'lo', ...bad]);
        assert.equal(result.code, 2, result.stderr);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr, `${line}\nTry 'netmeter --help'.\n`);
        assert.equal(existsSync(file), false, `${file} was created`);
      }
    } finally {
      tmp.remove();
    }
  });

  test(`${command} --help lists the capture options`, async () => {
    const result = await runCli([command, '--help']);
    assert.equal(result.code, 0, result.stderr);
    for (const option of ['-i, --interface IF', '--filter BPF', '--engine E', '--promisc', '--local CIDRS']) {
      assert.match(result.stdout, new RegExp(`^  ${option} `, 'm'), option);
    }
  });
}
