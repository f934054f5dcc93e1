// The provider report from speed test results, with figures worked out by hand: medians
// and the speed met in 80% of tests as shares of the plan, evening beside off-peak, failed
// and contended tests, retests left out, incidents cut at the period's edges; text and
// Markdown renderings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQualityReport, quantile, renderQualityMarkdown, renderQualityText } from '../src/alerts/quality-report.js';
import type { Incident, SpeedMeasurement } from '../src/alerts/types.js';

const DAY0 = Date.UTC(2026, 10, 1);
const H = 3_600_000;

function m(hour: number, more: Partial<SpeedMeasurement>): SpeedMeasurement {
  return { at: DAY0 + hour * H, server: 'a', family: 'ipv4', interface: 'eth0', failed: false, contended: false, ...more };
}

function incident(connection: string, type: string, from: number, until?: number): Incident {
  return { id: `${type}${from}`, detector: type, series: '', type, subject: '', connection, openedAt: from, ...(until === undefined ? {} : { closedAt: until }), summary: '', evidence: [] };
}

test('the quality report per connection and server, worked out by hand', () => {
  const measurements: SpeedMeasurement[] = [
    // Evening (19-23 h UTC here): 50 and 60; off-peak: 70, 80, 90.
    m(19, { downloadMbps: 50, uploadMbps: 20, latencyMs: 10, loadedLatencyMs: 100 }),
    m(20, { downloadMbps: 60, uploadMbps: 20, latencyMs: 20, loadedLatencyMs: 110 }),
    m(3, { downloadMbps: 70, uploadMbps: 20, latencyMs: 30, loadedLatencyMs: 120 }),
    m(8, { downloadMbps: 80, uploadMbps: 20, latencyMs: 40, loadedLatencyMs: 130 }),
    m(12, { downloadMbps: 90, uploadMbps: 20, latencyMs: 50, loadedLatencyMs: 140 }),
    m(13, { failed: true }),
    m(14, { downloadMbps: 5, contended: true }),
    m(19.1, { downloadMbps: 1, retest: true }),
    m(15, { family: 'ipv6', downloadMbps: 99 }),
    m(16, { server: 'b', downloadMbps: 100 }),
    // Outside the period.
    m(24 * 30 + 1, { downloadMbps: 1 }),
  ];
  const report = buildQualityReport({
    measurements,
    incidents: [
      incident('home', 'speed', DAY0 + 2 * H, DAY0 + 4 * H),
      incident('home', 'outage', DAY0 - 1 * H, DAY0 + 1 * H),
      incident('home', 'quota', DAY0 + 5 * H, DAY0 + 5 * H),
      incident('office', 'speed', DAY0 + 2 * H, DAY0 + 3 * H),
    ],
    connections: [{ name: 'home', provider: 'Example ISP', downloadMbps: 100, uploadMbps: 40 }],
    since: DAY0,
    until: DAY0 + 30 * 24 * H,
    label: '2026-11',
    timeZone: 'UTC',
  });
  assert.equal(report.connections.length, 1);
  const home = report.connections[0]!;
  assert.equal(home.incidents, 2);
  assert.equal(home.incidentSeconds, 3 * 3600, '2 h, plus the hour of the outage inside the period');
  assert.deepEqual(home.rows.map((r) => `${r.family} ${r.server}`), ['ipv4 a', 'ipv4 b', 'ipv6 a']);
  const a = home.rows[0]!;
  assert.equal(a.tests, 7, 'the retest is left out');
  assert.equal(a.failed, 1);
  assert.equal(a.contended, 1);
  // Sorted 50 60 70 80 90: median 70; 20th percentile at rank 0.8: 50 + 0.8 × 10 = 58.
  assert.deepEqual(a.download, { tests: 5, medianMbps: 70, met80Mbps: 58, medianShareOfPlan: 0.7, met80ShareOfPlan: 0.58, eveningMedianMbps: 55, offPeakMedianMbps: 80 });
  assert.deepEqual(a.upload, { tests: 5, medianMbps: 20, met80Mbps: 20, medianShareOfPlan: 0.5, met80ShareOfPlan: 0.5, offPeakMedianMbps: 20, eveningMedianMbps: 20 });
  assert.equal(a.latencyMedianMs, 30);
  assert.equal(a.loadedLatencyMedianMs, 120);

  const markdown = renderQualityMarkdown(report);
  assert.match(markdown, /^# Connection quality, 2026-11\n\n## home \(Example ISP\), plan 100 Mbit\/s down, 40 Mbit\/s up\n\nIncidents: 2, 3 h 0 min in total\./);
  assert.match(markdown, /\n\| ipv4 \| a \| 7 \| 1 \| 70\.0 \(70%\) \| 58\.0 \(58%\) \| 55\.0 \/ 80\.0 \| 20\.0 \(50%\) \| 20\.0 \(50%\) \| 30 \/ 120 ms \|\n/);
  const text = renderQualityText(report).split('\n');
  assert.equal(text[4], '  family  server  tests  failed  download median    met in 80%  evening / off-peak  upload median  met in 80%  latency idle / loaded');
  assert.equal(text[5], '  ipv4    a           7       1       70.0 (70%)    58.0 (58%)         55.0 / 80.0     20.0 (50%)  20.0 (50%)            30 / 120 ms');
  assert.equal(text[7], '  ipv6    a           1       0       99.0 (99%)    99.0 (99%)            - / 99.0              -           -               - / - ms');
});

test('quantiles interpolate between ranks; the evening follows the local clock', () => {
  assert.equal(quantile([], 0.5), undefined);
  assert.equal(quantile([7], 0.2), 7);
  assert.equal(quantile([10, 0], 0.2), 2);
  // 18:30 UTC in winter is 19:30 in Berlin: evening there, not in UTC.
  const results = [m(18.5, { downloadMbps: 10 }), m(10, { downloadMbps: 90 })];
  const request = { measurements: results, incidents: [], connections: [{ name: 'home', downloadMbps: 100 }], since: DAY0, until: DAY0 + 24 * H, label: 'x' };
  assert.equal(buildQualityReport({ ...request, timeZone: 'Europe/Berlin' }).connections[0]!.rows[0]!.download.eveningMedianMbps, 10);
  assert.equal(buildQualityReport({ ...request, timeZone: 'UTC' }).connections[0]!.rows[0]!.download.eveningMedianMbps, undefined);
});
