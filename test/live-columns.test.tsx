// Fitting table columns and header segments to a terminal width.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ColumnSpec } from '../src/present/live/columns.js';
import { contentWidth, fitColumns, joinToFit, truncate } from '../src/present/live/columns.js';

const specs: ColumnSpec[] = [
  { id: 'pid', title: 'PID', width: 5, align: 'right' },
  { id: 'user', title: 'USER', width: 8, dropRank: 1 },
  { id: 'program', title: 'PROGRAM', width: 10, flex: true },
  { id: 'up', title: 'UP', width: 12, align: 'right' },
  { id: 'sent', title: 'SENT', width: 10, dropRank: 2 },
  { id: 'received', title: 'RECEIVED', width: 10, dropRank: 2 },
];

const width = (columns: Array<{ width: number }>) => columns.reduce((sum, c) => sum + c.width, 0) + columns.length - 1;

test('every column fits a wide terminal and the flexible one takes the rest', () => {
  const columns = fitColumns(specs, 80);
  assert.deepEqual(columns.map((c) => c.id), ['pid', 'user', 'program', 'up', 'sent', 'received']);
  assert.equal(columns.find((c) => c.id === 'program')!.width, 80 - 5 - 8 - 12 - 10 - 10 - 5);
  assert.equal(width(columns), 80);
  assert.equal(columns[0]!.align, 'right');
  assert.equal(columns[1]!.align, 'left');
});

test('columns go in rank order, equal ranks together, unranked ones stay', () => {
  assert.deepEqual(fitColumns(specs, 59).map((c) => c.id), ['pid', 'program', 'up', 'sent', 'received'], 'USER first');
  assert.deepEqual(fitColumns(specs, 40).map((c) => c.id), ['pid', 'program', 'up'], 'then both totals');
  assert.deepEqual(fitColumns(specs, 20).map((c) => c.id), ['pid', 'program', 'up']);
});

test('no width from 1 to 120 gives a line wider than the terminal', () => {
  for (let total = 1; total <= 120; total++) {
    const columns = fitColumns(specs, total);
    assert.ok(columns.length >= 3);
    assert.ok(width(columns) <= Math.max(total, columns.length * 2 - 1), `${total}: ${width(columns)}`);
    assert.ok(columns.every((c) => c.width >= 1));
  }
});

test('truncate cuts with an ellipsis and no dangling space', () => {
  assert.equal(truncate('firefox', 10), 'firefox');
  assert.equal(truncate('firefox', 7), 'firefox');
  assert.equal(truncate('firefox', 6), 'firef…');
  assert.equal(truncate('ssh  backup', 5), 'ssh…');
  assert.equal(truncate('abc', 1), '…');
  assert.equal(truncate('abc', 0), '');
});

test('joinToFit leaves out the least important segments first', () => {
  const segments = [
    { text: 'eth0', priority: 9 },
    { text: 'rates', priority: 8 },
    { text: 'captured', priority: 5 },
    { text: 'dropped', priority: 6 },
  ];
  assert.equal(joinToFit(segments, 80), 'eth0  rates  captured  dropped');
  assert.equal(joinToFit(segments, 25), 'eth0  rates  dropped');
  assert.equal(joinToFit(segments, 12), 'eth0  rates');
  assert.equal(joinToFit(segments, 3), 'et…');
});

test('contentWidth is the widest of title and cells, capped', () => {
  assert.equal(contentWidth('PID', ['1', '2001'], 7), 4);
  assert.equal(contentWidth('PID', ['1'], 7), 3);
  assert.equal(contentWidth('PID', ['123456789'], 7), 7);
});
