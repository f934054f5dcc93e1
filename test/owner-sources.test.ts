// The words the help screen and the daemon's start line use for where owners come from:
// each of the three paths, with the reason a better one did not load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeOwnerSources } from '../src/attribute/owner-sources.js';

test('each path in words, with why the better one is not running', () => {
  assert.equal(describeOwnerSources({ kernel: 'socket hooks' }), 'kernel events (eBPF: socket hooks, connects, process ends) and /proc at start');
  assert.equal(
    describeOwnerSources({ kernel: 'tracepoints', hooksUnavailable: 'cannot load the BPF programs: Operation not permitted' }),
    '/proc every second and kernel events (eBPF: connects, listens, process ends; socket hooks unavailable: cannot load the BPF programs: Operation not permitted)',
  );
  assert.equal(describeOwnerSources({ kernel: 'none', kernelUnavailable: 'turned off (NETMETER_KERNEL_EVENTS=off)' }), '/proc only (kernel events unavailable: turned off (NETMETER_KERNEL_EVENTS=off))');
});
