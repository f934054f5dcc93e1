import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  parseCmdline,
  parseComm,
  parsePasswd,
  parseStatStartTime,
  parseStatusUid,
} from '../src/attribute/proc/process-info.js';

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/proc/${path}`, import.meta.url), 'utf8');

test('comm loses its one trailing newline and keeps inner spaces', () => {
  assert.equal(parseComm(fixture('host-sample/4440/comm')), 'sleep');
  assert.equal(parseComm('Web Content\n'), 'Web Content');
  assert.equal(parseComm('kworker/0:1'), 'kworker/0:1');
});

test('cmdline turns NULs into spaces and drops the trailing NUL', () => {
  assert.equal(parseCmdline(fixture('host-sample/4440/cmdline')), 'sleep 600');
  assert.equal(
    parseCmdline(fixture('host-sample/4429/cmdline')),
    '/usr/bin/node /work/main/fixtures/proc/make-host-sample.mjs --client',
  );
  assert.equal(parseCmdline(''), '', 'kernel threads have an empty cmdline');
  assert.equal(parseCmdline('nginx: worker process'), 'nginx: worker process', 'a rewritten argv may have no NUL');
  assert.equal(parseCmdline('a\0\0b\0\0\0'), 'a  b');
});

test('status gives the real uid, the first of four', () => {
  assert.equal(parseStatusUid(fixture('host-sample/4429/status')), 65534);
  assert.equal(parseStatusUid(fixture('host-sample/4418/status')), 0);
  assert.equal(parseStatusUid('Name:\tx\nUid:\t1000\t0\t0\t0\n'), 1000);
  assert.equal(parseStatusUid('Name:\tx\n'), undefined);
});

test('stat field 22 is counted from the last parenthesis, whatever the comm holds', () => {
  assert.equal(parseStatStartTime(fixture('host-sample/4418/stat')), 36275);
  assert.equal(parseStatStartTime(fixture('host-sample/4440/stat')), 36292);
  const tail = 'S 1 1 1 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 777 1000 10 0';
  assert.equal(parseStatStartTime(`42 (a) b (c)) ${tail}`), 777);
  assert.equal(parseStatStartTime(`42 (x y z) ${tail}`), 777);
  assert.equal(parseStatStartTime('42 no parenthesis'), undefined);
  assert.equal(parseStatStartTime('42 (short) S 1 2'), undefined);
});

test('passwd maps uids to names, first entry wins, odd lines name no one', () => {
  const users = parsePasswd(fixture('host-sample/passwd'));
  assert.equal(users.get(0), 'root');
  assert.equal(users.get(65534), 'nobody');
  const odd = parsePasswd('# comment\nalice:x:1000:1000::/home/alice:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n+::::::\nbroken\n');
  assert.deepEqual([...odd], [[1000, 'alice']]);
});
