// docs/fleet/ is checked by Prometheus's own tool: the scrape configs (server and agent)
// are valid, the rules parse, `promtool test rules` passes, and every rule of rules.yml has
// a unit test there. The dashboard is valid JSON whose panels fit Grafana's 24-column grid;
// its queries are run against a real Prometheus in metrics-daemon-e2e.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, hasCommand } from './support/run-cli.js';

const FLEET = join(REPO_ROOT, 'docs', 'fleet');
const skip = hasCommand('promtool') ? false : 'needs promtool (Debian package prometheus)';

function promtool(args: string[]): string {
  const run = spawnSync('promtool', args, { cwd: FLEET, encoding: 'utf8' });
  assert.equal(run.status, 0, `promtool ${args.join(' ')}:\n${run.stdout}${run.stderr}`);
  return run.stdout + run.stderr;
}

test('the scrape configs are valid: the server\'s (with rules.yml) and the agent\'s', { skip }, () => {
  assert.match(promtool(['check', 'config', 'prometheus.yml']), /SUCCESS: 11 rules found/);
  promtool(['check', 'config', '--agent', 'prometheus-agent.yml']);
});

test('rules.yml parses, its unit tests pass, and every rule has one', { skip }, () => {
  promtool(['check', 'rules', 'rules.yml']);
  assert.match(promtool(['test', 'rules', 'rules.test.yml']), /SUCCESS/);
  const rules = readFileSync(join(FLEET, 'rules.yml'), 'utf8');
  const tests = readFileSync(join(FLEET, 'rules.test.yml'), 'utf8');
  const alerts = [...rules.matchAll(/^\s*- alert: (\S+)$/gm)].map((m) => m[1]!);
  const records = [...rules.matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1]!);
  assert.equal(alerts.length + records.length, 11);
  for (const alert of alerts) {
    const firing = new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`);
    assert.match(tests, firing, `${alert} has a test in which it fires`);
  }
  // The recording rules are tested through the speed alerts that stand on them (and one directly).
  for (const record of records) assert.ok(rules.includes(`expr: ${record} < `), `${record}: an alert uses it`);
});

test('the Grafana dashboard: JSON with unique panel ids, a grid that fits, a query on every panel', () => {
  const dashboard = JSON.parse(readFileSync(join(FLEET, 'grafana-dashboard.json'), 'utf8')) as {
    uid: string;
    panels: Array<{ id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: Array<{ expr: string; refId: string }> }>;
  };
  assert.equal(dashboard.uid, 'netmeter-fleet');
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
  for (const p of dashboard.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits 24 columns`);
    if (p.type === 'row') continue;
    assert.ok(p.targets && p.targets.length > 0, `${p.title}: has queries`);
    for (const t of p.targets) assert.match(t.expr, /netmeter_|up\{|process_/, `${p.title}: ${t.expr}`);
  }
  for (const title of ['Hosts down', 'Top 10 applications, download', 'Download speed per server, and the plan', 'Received: kernel vs captured, unknown, other']) {
    assert.ok(dashboard.panels.some((p) => p.title === title), `a panel "${title}"`);
  }
});
