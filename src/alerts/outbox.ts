// The alerts' part of the history database: incidents, the outbox of messages per channel
// (kept until delivered, so a restart or a crash loses none), and silences added at run
// time. The engine decides; this records, in one transaction per batch of decisions.

import type { HistoryDb } from '../history/database.js';
import type { SilenceConfig } from './config.js';
import type { AlertEvent, Decision, Incident, SpeedMeasurement } from './types.js';

export interface Delivery {
  event: AlertEvent;
  channel: string;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  deliveredAt?: number;
  lastError?: string;
}

interface DeliveryRow {
  event_id: string;
  channel: string;
  event_json: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  delivered_at: number | null;
  last_error: string | null;
}

export class AlertOutbox {
  constructor(private readonly db: HistoryDb) {}

  /** Stores what the engine decided: incidents opened or closed, a delivery per channel for each message. */
  record(decisions: Decision[], channels: string[], now: number): void {
    const upsert = this.db.prepare(`INSERT INTO alert_incident (id, detector, subject, opened_at, closed_at, json) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET closed_at = excluded.closed_at, json = excluded.json`);
    const enqueue = this.db.prepare(`INSERT OR IGNORE INTO alert_delivery (event_id, channel, incident_id, created_at, event_json, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const d of decisions) {
        if (d.kind !== 'notify' && d.kind !== 'held') continue;
        const i = d.event.incident;
        if (d.event.kind !== 'test') upsert.run(i.id, i.detector, i.subject, i.openedAt, i.closedAt ?? null, JSON.stringify(i));
        if (d.kind === 'notify') for (const channel of channels) enqueue.run(d.event.id, channel, i.id, now, JSON.stringify(d.event), now);
      }
    })();
  }

  /** Messages not yet delivered, in the order they were decided; `nextAttemptAt` says when each is due. */
  pending(): Delivery[] {
    return (this.db.prepare(`SELECT * FROM alert_delivery WHERE delivered_at IS NULL AND given_up_at IS NULL ORDER BY seq`).all() as DeliveryRow[]).map(toDelivery);
  }

  /** When the next pending message is due, for the caller's timer. */
  nextDue(): number | undefined {
    const row = this.db.prepare(`SELECT min(next_attempt_at) AS t FROM alert_delivery WHERE delivered_at IS NULL AND given_up_at IS NULL`).get() as { t: number | null };
    return row.t ?? undefined;
  }

  delivered(eventId: string, channel: string, now: number): void {
    this.db.prepare(`UPDATE alert_delivery SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE event_id = ? AND channel = ?`).run(now, eventId, channel);
  }

  failed(eventId: string, channel: string, now: number, error: string, nextAt: number | undefined): void {
    this.db.prepare(`UPDATE alert_delivery SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, given_up_at = ? WHERE event_id = ? AND channel = ?`)
      .run(error, nextAt ?? now, nextAt === undefined ? now : null, eventId, channel);
  }

  incidents(options: { open?: boolean; since?: number; limit?: number } = {}): Incident[] {
    const where: string[] = [];
    const args: number[] = [];
    if (options.open === true) where.push('closed_at IS NULL');
    if (options.since !== undefined) {
      where.push('(closed_at IS NULL OR closed_at >= ?)');
      args.push(options.since);
    }
    const sql = `SELECT json FROM alert_incident ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC LIMIT ${options.limit ?? 1000}`;
    return (this.db.prepare(sql).all(...args) as Array<{ json: string }>).map((r) => JSON.parse(r.json) as Incident);
  }

  /** Open incidents whose opening never went to the outbox: a silence held it. */
  heldOpenings(): Set<string> {
    const rows = this.db.prepare(`SELECT id FROM alert_incident i WHERE closed_at IS NULL AND NOT EXISTS (SELECT 1 FROM alert_delivery d WHERE d.incident_id = i.id)`).all() as Array<{ id: string }>;
    return new Set(rows.map((r) => r.id));
  }

  /** Keeps a judged speed test result for the quality report. */
  recordSpeed(m: SpeedMeasurement): void {
    this.db.prepare(`INSERT INTO alert_speed_result (at, server, family, json) VALUES (?, ?, ?, ?)`).run(m.at, m.server, m.family, JSON.stringify(m));
  }

  speedResults(since: number, until: number): SpeedMeasurement[] {
    return (this.db.prepare(`SELECT json FROM alert_speed_result WHERE at >= ? AND at < ? ORDER BY at`).all(since, until) as Array<{ json: string }>).map((r) => JSON.parse(r.json) as SpeedMeasurement);
  }

  addSilence(silence: SilenceConfig, now: number): number {
    return Number(this.db.prepare(`INSERT INTO alert_silence (from_at, until_at, detector, reason, created_at) VALUES (?, ?, ?, ?, ?)`)
      .run(silence.from, silence.until, silence.detector ?? null, silence.reason ?? null, now).lastInsertRowid);
  }

  /** Silences not yet over at `now`. */
  silences(now: number): SilenceConfig[] {
    const rows = this.db.prepare(`SELECT from_at, until_at, detector, reason FROM alert_silence WHERE until_at > ? ORDER BY from_at`).all(now) as Array<{ from_at: number; until_at: number; detector: string | null; reason: string | null }>;
    return rows.map((r) => ({ from: r.from_at, until: r.until_at, ...(r.detector === null ? {} : { detector: r.detector }), ...(r.reason === null ? {} : { reason: r.reason }) }));
  }
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    event: JSON.parse(row.event_json) as AlertEvent,
    channel: row.channel,
    attempts: row.attempts,
    createdAt: row.created_at,
    nextAttemptAt: row.next_attempt_at,
    ...(row.delivered_at === null ? {} : { deliveredAt: row.delivered_at }),
    ...(row.last_error === null ? {} : { lastError: row.last_error }),
  };
}
