// A reader that stops early closes netmeter's stdout: the output ends there, quietly, with
// no stack trace (`netmeter replay x --json | head`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, REPO_ROOT } from './support/run-cli.js';

test('a closed pipe on stdout ends the output without a stack trace', () => {
  // `true` exits at once: the report meets a closed pipe.
  const script = `"${process.execPath}" "${CLI}" replay fixtures/pcap/loopback-mixed.pcapng --json | true; echo "exit \${PIPESTATUS[0]}" >&2`;
  const result = spawnSync('bash', ['-c', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(result.stderr, 'exit 0\n');
});
