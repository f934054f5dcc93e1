// The process the crash test kills: opens the history database, stores two messages for
// the webhook in the outbox and starts delivering them. The test's receiver holds the first
// request open and kills this process with SIGKILL meanwhile, so both are still pending.
// Usage: node crash-child.js DB CONFIG_JSON

import { openHistoryForWriting } from '../../src/history/database.js';
import { parseAlertsConfig } from '../../src/alerts/config.js';
import { AlertEngine } from '../../src/alerts/engine.js';
import { AlertOutbox } from '../../src/alerts/outbox.js';
import { channelFor } from '../../src/alerts/channels/channel.js';
import { Notifier } from '../../src/alerts/notifier.js';

const [db, configJson] = process.argv.slice(2);
const config = parseAlertsConfig(JSON.parse(configJson!), 'crash test');
const history = openHistoryForWriting(db!);
const outbox = new AlertOutbox(history);
const engine = new AlertEngine(config);
const t0 = Date.UTC(2026, 11, 1, 8);
for (let i = 0; i < 3; i++) {
  const decisions = [
    ...engine.observeSpeed({ at: t0 + i * 3_600_000, server: 'a', family: 'ipv4', downloadMbps: 20, failed: false, contended: false }),
    ...engine.observeSpeed({ at: t0 + i * 3_600_000 + 60_000, server: 'b', family: 'ipv4', downloadMbps: 20, failed: false, contended: false, retest: true }),
  ];
  outbox.record(decisions, config.channels.map((c) => c.name), t0);
}
for (let i = 0; i < 3; i++) outbox.record(engine.observeSpeed({ at: t0 + (3 + i) * 3_600_000, server: 'a', family: 'ipv4', downloadMbps: 95, failed: false, contended: false }), config.channels.map((c) => c.name), t0);
process.stdout.write(`pending ${outbox.pending().length}\n`);
const notifier = new Notifier(outbox, config.channels.map((c) => channelFor(c, config, { timeoutMs: 60_000 })), config.channels, { now: () => t0 });
await notifier.drain();
process.stdout.write('drained (the test should have killed this process before)\n');
