// What messages say: a complaint addressed to the provider only when the channel says
// `complaint: true`, otherwise a note to the user with the same facts; durations; notices;
// the JSON document's fields.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventDocument, formatDuration, renderMessage } from '../src/alerts/message.js';
import type { AlertEvent, Incident } from '../src/alerts/types.js';

const T0 = Date.UTC(2026, 11, 1, 18);
const incident: Incident = {
  id: 'abc123', detector: 'speed-download', series: 's', type: 'speed', subject: 'home ipv6 download', connection: 'home', family: 'ipv6',
  openedAt: T0, confirmedAt: T0 + 65 * 60_000, summary: 'download 40.0 Mbit/s from a, 40% of the 100 Mbit/s plan', planMbps: 100,
  evidence: [{ at: T0, server: 'a', value: 40, unit: 'Mbit/s', bad: true }, { at: T0 + 3_600_000, server: 'b', value: 44, unit: 'Mbit/s', bad: true, retest: true }],
};
const connection = { name: 'home', provider: 'Example ISP', downloadMbps: 100 };
const open: AlertEvent = { id: 'abc123-open', kind: 'open', at: T0 + 65 * 60_000, incident };

test('the complaint goes to the provider; without complaint: true the same facts are a note to the user', () => {
  const complaint = renderMessage(open, connection, true);
  assert.equal(complaint.subject, 'Slow download on connection "home": 42% of the plan since 2026-12-01 18:00 UTC');
  assert.match(complaint.text, /^Dear Example ISP,\n\nI am writing about my connection "home" with Example ISP, plan 100 Mbit\/s download\.\nSince 2026-12-01 18:00 UTC \(1 h 5 min so far\)/);
  assert.match(complaint.text, /Automated measurements \(IPv6, times in UTC\):\n {2}2026-12-01 18:00 UTC {2}server a {2}40\.0 Mbit\/s \(40% of plan\)\n {2}2026-12-01 19:00 UTC {2}server b {2}44\.0 Mbit\/s \(44% of plan\) {2}\[retest\]\n/);
  const note = renderMessage(open, connection, false);
  assert.equal(note.subject, 'netmeter: problem: home ipv6 download');
  assert.doesNotMatch(note.text, /Dear/);
  assert.match(note.text, /^home ipv6 download: problem since 2026-12-01 18:00 UTC \(1 h 5 min\)\.\n/);
  assert.match(note.text, /Median of the results below the level: 42% of the plan\./);

  const closed = { ...incident, closedAt: T0 + 26 * 3_600_000, recovery: 'download 95.0 Mbit/s from a' };
  const recovery = renderMessage({ id: 'abc123-recovery', kind: 'recovery', at: closed.closedAt, incident: closed }, connection, true);
  assert.equal(recovery.subject, 'Resolved: slow download on connection "home" (1 d 2 h, since 2026-12-01 18:00 UTC)');
  assert.match(recovery.text, /From 2026-12-01 18:00 UTC to 2026-12-02 20:00 UTC \(1 d 2 h\) it did not deliver/);
  assert.match(recovery.text, /Back to normal: download 95\.0 Mbit\/s from a\./);
});

test('durations, notices and the JSON document', () => {
  assert.equal(formatDuration(0), '0 min');
  assert.equal(formatDuration(59 * 60_000), '59 min');
  assert.equal(formatDuration(3 * 3_600_000), '3 h');
  assert.equal(formatDuration(25 * 3_600_000 + 60_000), '1 d 1 h 1 min');
  const notice = renderMessage({ id: 'q-notice', kind: 'notice', at: T0, incident: { ...incident, type: 'quota', subject: 'quota 80%', summary: '81% of the monthly quota used', closedAt: T0, planMbps: undefined, evidence: [] } }, connection, false);
  assert.equal(notice.subject, 'netmeter: notice: quota 80%');
  const doc = eventDocument(open) as { incident: Record<string, unknown>; at: string };
  assert.equal(doc.at, '2026-12-01T19:05:00.000Z');
  assert.equal(doc.incident.durationSeconds, 3900);
  assert.equal(doc.incident.family, 'ipv6');
  assert.deepEqual((doc.incident.evidence as unknown[])[0], { at: '2026-12-01T18:00:00.000Z', server: 'a', value: 40, unit: 'Mbit/s', bad: true });
});
