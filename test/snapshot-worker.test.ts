import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { SnapshotWorker } from '../src/attribute/snapshot-worker.js';

// A /proc copied from a real host: three processes and their sockets (fixtures/proc/README.md).
const root = fileURLToPath(new URL('../../fixtures/proc/host-sample', import.meta.url));

test('the /proc reader thread ends after a quiet while and starts again for the next read', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const worker = new SnapshotWorker();
  t.after(() => worker.close());

  const first = await worker.take(root);
  assert.ok(first && first.processes.length > 0, 'the first read gives a snapshot');
  assert.equal(await worker.take(root), undefined, 'the same again: nothing sent');
  assert.equal(worker.running, true);

  t.mock.timers.tick(9_999);
  assert.equal(worker.running, true, 'still there just before the idle time is up');
  t.mock.timers.tick(1);
  assert.equal(worker.running, false, 'ended once no read came for the idle time');

  // A new thread knows nothing of the last snapshot: it reads everything afresh.
  const again = await worker.take(root);
  assert.deepEqual(again?.processes, first.processes);
  assert.equal(worker.running, true);
});

test('a read under way keeps the thread: the idle time counts from the last answer', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const worker = new SnapshotWorker();
  t.after(() => worker.close());
  await worker.take(root);
  t.mock.timers.tick(6_000);
  const pending = worker.take(root); // clears the idle timer until it is answered
  t.mock.timers.tick(6_000);
  assert.equal(worker.running, true, 'no end while a read is under way');
  await pending;
  t.mock.timers.tick(9_000);
  assert.equal(worker.running, true, 'the idle time started again at the answer');
  t.mock.timers.tick(1_000);
  assert.equal(worker.running, false);
});
