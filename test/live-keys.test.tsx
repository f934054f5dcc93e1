// What each key does to the live session state, without Ink.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Key } from 'ink';
import type { KeyContext, LiveState } from '../src/present/live/live-keys.js';
import { INITIAL_LIVE_STATE, applyKey } from '../src/present/live/live-keys.js';
import type { LiveFrame } from '../src/present/live/live-feed.js';
import type { ProcessRow } from '../src/present/live/view-rows.js';

const noKey: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false,
  hyper: false, capsLock: false, numLock: false,
};

const frame = { elapsedSeconds: 3, intervalSeconds: 1 } as LiveFrame;
const row = (pid: number | null, name: string): ProcessRow => ({ key: `${pid}:${name}`, pid, name, user: null, cmdline: '', exited: false, folded: 0, sentBytes: 0, receivedBytes: 0, sentRate: 0, receivedRate: 0 });
const rows = [row(10, 'a'), row(20, 'b'), row(null, 'c')];
const context: KeyContext = { frame, processRows: () => rows, pageRows: 2 };

function keys(state: LiveState, ...presses: Array<string | Partial<Key>>): LiveState {
  for (const press of presses) {
    const outcome = typeof press === 'string' ? applyKey(state, press, noKey, context) : applyKey(state, '', { ...noKey, ...press }, context);
    state = outcome.state;
  }
  return state;
}

test('sort, measure and unit keys', () => {
  assert.equal(INITIAL_LIVE_STATE.sort, 'total');
  assert.equal(keys(INITIAL_LIVE_STATE, 'u').sort, 'upload');
  assert.equal(keys(INITIAL_LIVE_STATE, 'd').sort, 'download');
  assert.equal(keys(INITIAL_LIVE_STATE, 'u', 't').sort, 'total');
  assert.equal(keys(INITIAL_LIVE_STATE, 'm').measure, 'total');
  assert.equal(keys(INITIAL_LIVE_STATE, 'm', 'm').measure, 'rate');
  assert.equal(keys(INITIAL_LIVE_STATE, 'b').unit, 'bits');
});

test('v cycles the views, number keys jump, both leave a process detail', () => {
  assert.deepEqual(['v', 'vv', 'vvv', 'vvvv'].map((p) => keys(INITIAL_LIVE_STATE, ...p).view), ['applications', 'connections', 'hosts', 'processes']);
  assert.equal(keys(INITIAL_LIVE_STATE, '3').view, 'connections');
  const detail = keys(INITIAL_LIVE_STATE, { return: true });
  assert.deepEqual(detail.detail, { pid: 10, name: 'a' });
  assert.equal(keys(detail, '4').detail, null);
});

test('arrows move the selection within the rows; Enter opens only a process with a pid', () => {
  assert.equal(keys(INITIAL_LIVE_STATE, { upArrow: true }).selectedKey, '10:a');
  assert.equal(keys(INITIAL_LIVE_STATE, { downArrow: true }, { downArrow: true }, { downArrow: true }).selectedKey, 'null:c');
  assert.equal(keys(INITIAL_LIVE_STATE, { downArrow: true }, { downArrow: true }, { return: true }).detail, null);
  const opened = keys(INITIAL_LIVE_STATE, { downArrow: true }, { return: true });
  assert.deepEqual(opened.detail, { pid: 20, name: 'b' });
  assert.deepEqual([keys(opened, { escape: true }).detail, keys(opened, { escape: true }).selectedKey], [null, null], 'Esc: back to the top');
  assert.deepEqual([keys(opened, { backspace: true }).detail, keys(opened, { backspace: true }).selectedKey], [null, '20:b'], 'Backspace: back to the process');
  assert.equal(keys(INITIAL_LIVE_STATE, '2', { downArrow: true }).selectedKey, null, 'no selection outside the processes view');
});

test('Home and End jump to the first and last row, PgUp and PgDn move by a page, Esc goes back to the top', () => {
  const many = Array.from({ length: 7 }, (_, i) => row(i + 1, `p${i + 1}`));
  const pages: KeyContext = { frame, processRows: () => many, pageRows: 3 };
  const press = (state: LiveState, ...presses: Array<Partial<Key>>) => presses.reduce((s, p) => applyKey(s, '', { ...noKey, ...p }, pages).state, state);
  assert.equal(press(INITIAL_LIVE_STATE, { end: true }).selectedKey, '7:p7');
  assert.equal(press(INITIAL_LIVE_STATE, { end: true }, { home: true }).selectedKey, '1:p1');
  assert.equal(press(INITIAL_LIVE_STATE, { pageDown: true }).selectedKey, '4:p4');
  assert.equal(press(INITIAL_LIVE_STATE, { pageDown: true }, { pageDown: true }, { pageDown: true }).selectedKey, '7:p7', 'PgDn stops at the last row');
  assert.equal(press(INITIAL_LIVE_STATE, { end: true }, { pageUp: true }).selectedKey, '4:p4');
  assert.equal(press(INITIAL_LIVE_STATE, { downArrow: true }, { pageUp: true }).selectedKey, '1:p1', 'PgUp stops at the first row');
  assert.equal(press(INITIAL_LIVE_STATE, { end: true }, { escape: true }).selectedKey, null, 'Esc: no selection, the highlight on the top row');
  assert.equal(press(keys(INITIAL_LIVE_STATE, '2'), { end: true }).selectedKey, null, 'no selection outside the processes view');
});

test('p freezes the frame of the moment and releases it', () => {
  const paused = keys(INITIAL_LIVE_STATE, 'p');
  assert.equal(paused.pausedFrame, frame);
  assert.equal(keys(paused, 'p').pausedFrame, null);
});

test('the filter prompt takes every key as text until Enter or Esc', () => {
  const typing = keys(INITIAL_LIVE_STATE, '/', 'q', 'v', 'x', { delete: true }, '?');
  assert.deepEqual([typing.filter, typing.editingFilter, typing.view, typing.help], ['qv?', true, 'processes', false]);
  assert.deepEqual([keys(typing, { return: true }).filter, keys(typing, { return: true }).editingFilter], ['qv?', false]);
  assert.deepEqual([keys(typing, { escape: true }).filter, keys(typing, { escape: true }).editingFilter], ['', false]);
  assert.equal(keys(INITIAL_LIVE_STATE, '/', 'ab', { return: true }, '/', 'c').filter, 'abc', 'a reopened prompt edits the kept text');
});

test('help swallows keys other than ? and Esc, but q still quits', () => {
  const help = keys(INITIAL_LIVE_STATE, '?');
  assert.equal(help.help, true);
  assert.equal(keys(help, 'u').sort, 'total');
  assert.equal(keys(help, '?').help, false);
  assert.equal(keys(help, { escape: true }).help, false);
  assert.equal(applyKey(help, 'q', noKey, context).quit, true);
});

test('q and Ctrl+C quit', () => {
  assert.equal(applyKey(INITIAL_LIVE_STATE, 'q', noKey, context).quit, true);
  assert.equal(applyKey(INITIAL_LIVE_STATE, 'c', { ...noKey, ctrl: true }, context).quit, true);
  assert.equal(applyKey(INITIAL_LIVE_STATE, 'c', noKey, context).quit, undefined);
});
