// Delivers the outbox: every due message to its channel, channels side by side (a hanging
// webhook does not hold up email), in order within one channel. Each delivery or failure is
// one log line; a failure is retried with exponential backoff (30 s doubling, at most an
// hour) until the channel's attempts run out. At least once: a message is marked delivered
// only after the receiver took it, so a crash in between sends it again, same event id.

import type { ChannelConfig } from './config.js';
import type { Channel } from './channels/channel.js';
import type { AlertOutbox, Delivery } from './outbox.js';

export interface NotifierOptions {
  now?: () => number;
  log?: (line: string) => void;
  /** Wait before attempt n + 1 after n failed ones. */
  backoffMs?: (attempts: number) => number;
}

export const backoff = (attempts: number): number => Math.min(30_000 * 2 ** (attempts - 1), 3_600_000);

export class Notifier {
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly backoffMs: (attempts: number) => number;
  private running: Promise<number> | undefined;

  constructor(
    private readonly outbox: AlertOutbox,
    private readonly channels: Channel[],
    private readonly configs: ChannelConfig[],
    options: NotifierOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.backoffMs = options.backoffMs ?? backoff;
  }

  /** Tries every due message once; resolves to how many were delivered. One drain at a time. */
  drain(): Promise<number> {
    this.running ??= this.drainOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async drainOnce(): Promise<number> {
    const byChannel = new Map<string, Delivery[]>();
    for (const d of this.outbox.pending()) {
      if (!byChannel.has(d.channel)) byChannel.set(d.channel, []);
      byChannel.get(d.channel)!.push(d);
    }
    const counts = await Promise.all([...byChannel].map(async ([name, list]) => {
      const channel = this.channels.find((c) => c.name === name);
      // A channel taken out of the config: its messages wait in case it comes back.
      if (channel === undefined) return 0;
      const attempts = (this.configs.find((c) => c.name === name) as { attempts?: number } | undefined)?.attempts ?? 100;
      let delivered = 0;
      for (const d of list) {
        // A message waiting for its retry holds back the later ones: a recovery never arrives before its opening.
        if (d.nextAttemptAt > this.now()) break;
        const attempt = d.attempts + 1;
        const what = `${d.event.id} (${d.event.kind} ${d.event.incident.subject})`;
        try {
          await channel.send(d.event);
          this.outbox.delivered(d.event.id, name, this.now());
          this.log(`alerts: delivered ${what} via ${name}${attempt > 1 ? ` on attempt ${attempt}` : ''}`);
          delivered++;
        } catch (error) {
          const why = error instanceof Error ? error.message : String(error);
          const now = this.now();
          if (attempt >= attempts) {
            this.outbox.failed(d.event.id, name, now, why, undefined);
            this.log(`alerts: gave up delivering ${what} via ${name} after ${attempt} attempts: ${why}`);
          } else {
            const wait = this.backoffMs(attempt);
            this.outbox.failed(d.event.id, name, now, why, now + wait);
            this.log(`alerts: could not deliver ${what} via ${name} (attempt ${attempt}): ${why}; next try in ${Math.round(wait / 1000)} s`);
          }
          // Later messages on this channel would likely fail the same way; keep their order.
          break;
        }
      }
      return delivered;
    }));
    return counts.reduce((a, b) => a + b, 0);
  }
}
