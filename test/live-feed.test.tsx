// The frame store between the meter and the live screen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveFeedStore } from '../src/present/live/live-feed.js';
import type { LiveFrame } from '../src/present/live/live-feed.js';

const frame = (elapsedSeconds: number) => ({ elapsedSeconds, intervalSeconds: 1 }) as LiveFrame;

test('current() is the last published frame, the same object until the next', () => {
  const first = frame(0);
  const store = new LiveFeedStore(first);
  assert.equal(store.current(), first);
  assert.equal(store.current(), store.current());
  const second = frame(1);
  store.publish(second);
  assert.equal(store.current(), second);
});

test('subscribers hear each publish until they unsubscribe', () => {
  const store = new LiveFeedStore(frame(0));
  const heard: number[] = [];
  const unsubscribe = store.subscribe(() => heard.push(store.current().elapsedSeconds));
  store.publish(frame(1));
  store.publish(frame(2));
  unsubscribe();
  store.publish(frame(3));
  assert.deepEqual(heard, [1, 2]);
});
