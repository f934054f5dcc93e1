// The history database's tables and the migrations that create them, one transaction per
// step; PRAGMA user_version holds the step reached and application_id marks the file as
// netmeter's.
//
// Traffic is stored at three resolutions with the same columns: every byte is in exactly
// one of minute, hour or day rows (roll-up moves it, see rollup.ts), so a query sums the
// three. `start` is the period's first second (Unix time); hours and days are local ones.

import type Database from 'better-sqlite3';

/** "nmtr": lets a reader tell a netmeter history from some other SQLite file. */
export const APPLICATION_ID = 0x6e6d7472;

export const RESOLUTIONS = ['minute', 'hour', 'day'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

const usageTable = (resolution: Resolution) => `
  CREATE TABLE usage_${resolution} (
    start            INTEGER NOT NULL,
    series           INTEGER NOT NULL REFERENCES series(id),
    sent_bytes       INTEGER NOT NULL,
    received_bytes   INTEGER NOT NULL,
    sent_packets     INTEGER NOT NULL,
    received_packets INTEGER NOT NULL,
    PRIMARY KEY (start, series)
  ) WITHOUT ROWID;`;

const kernelTable = (resolution: Resolution) => `
  CREATE TABLE kernel_${resolution} (
    start      INTEGER NOT NULL,
    interface  TEXT NOT NULL,
    rx_bytes   INTEGER NOT NULL,
    tx_bytes   INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL,
    tx_packets INTEGER NOT NULL,
    PRIMARY KEY (start, interface)
  ) WITHOUT ROWID;`;

/** Step i brings the database from user_version i to i + 1. Never edit a shipped step; add one. */
const MIGRATIONS: string[] = [
  `
  -- What traffic is counted by: application (name and executable), user, interface.
  -- '' stands for "not known" so that UNIQUE treats unknowns as equal.
  CREATE TABLE series (
    id        INTEGER PRIMARY KEY,
    app       TEXT NOT NULL,
    exe       TEXT NOT NULL,
    user      TEXT NOT NULL,
    interface TEXT NOT NULL,
    UNIQUE (app, exe, user, interface)
  );
  ${RESOLUTIONS.map(usageTable).join('\n')}
  ${RESOLUTIONS.map(kernelTable).join('\n')}
  -- The last raw kernel counters stored per interface and the boot they belong to, so a
  -- daemon restarted in the same boot continues from them and loses nothing in between.
  CREATE TABLE kernel_baseline (
    interface  TEXT PRIMARY KEY,
    boot_id    TEXT NOT NULL,
    rx_bytes   INTEGER NOT NULL,
    tx_bytes   INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL,
    tx_packets INTEGER NOT NULL,
    read_at    INTEGER NOT NULL
  );
  `,
  `
  -- The alert engine's incidents (src/alerts, docs/alerts.md); times in milliseconds. The
  -- incident as messages show it is kept whole in json.
  CREATE TABLE alert_incident (
    id         TEXT PRIMARY KEY,
    detector   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    opened_at  INTEGER NOT NULL,
    closed_at  INTEGER,
    json       TEXT NOT NULL
  );
  -- The outbox: one row per message and channel until it is delivered, kept across
  -- restarts; the event id is what a receiver drops repeats by.
  CREATE TABLE alert_delivery (
    seq             INTEGER PRIMARY KEY,
    event_id        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    incident_id     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    event_json      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    given_up_at     INTEGER,
    last_error      TEXT,
    UNIQUE (event_id, channel)
  );
  CREATE INDEX alert_delivery_due ON alert_delivery (next_attempt_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;
  -- Every speed test result the alert engine judged (SpeedMeasurement as JSON), for
  -- netmeter report --quality.
  CREATE TABLE alert_speed_result (
    at     INTEGER NOT NULL,
    server TEXT NOT NULL,
    family TEXT NOT NULL,
    json   TEXT NOT NULL
  );
  CREATE INDEX alert_speed_result_at ON alert_speed_result (at);
  -- Silences added with netmeter alerts silence.
  CREATE TABLE alert_silence (
    id         INTEGER PRIMARY KEY,
    from_at    INTEGER NOT NULL,
    until_at   INTEGER NOT NULL,
    detector   TEXT,
    reason     TEXT,
    created_at INTEGER NOT NULL
  );
  `,
  `
  -- Speed test results (src/speedtest/store.ts): the figures a report lists, and the whole
  -- version-1 document (docs/speedtest.md). Failed and partial runs are kept with their
  -- status, so a report can tell them apart; only 'complete' rows are measurements.
  CREATE TABLE speed_test (
    id                  INTEGER PRIMARY KEY,
    started             INTEGER NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('complete', 'partial', 'failed')),
    error               TEXT,
    server_name         TEXT NOT NULL,
    server_url          TEXT NOT NULL,
    protocol            TEXT,
    family              INTEGER,
    interface           TEXT,
    local_address       TEXT,
    public_address      TEXT,
    download_mbps       REAL,
    upload_mbps         REAL,
    idle_latency_ms     REAL,
    jitter_ms           REAL,
    download_latency_ms REAL,
    upload_latency_ms   REAL,
    packet_loss_percent REAL,
    bytes_used          INTEGER NOT NULL,
    document            TEXT NOT NULL
  );
  CREATE INDEX speed_test_started ON speed_test (started);
  `,
  `
  -- Per subscriber (daemon --by host, docs/design.md "Subscribers"): a series may be a
  -- subscriber's (app '(subscriber)', host its address or IPv6 prefix); '' for a program's.
  -- SQLite cannot change a UNIQUE constraint in place: the table is rebuilt with the same
  -- ids, which the usage tables refer to.
  CREATE TABLE series_v4 (
    id        INTEGER PRIMARY KEY,
    app       TEXT NOT NULL,
    exe       TEXT NOT NULL,
    user      TEXT NOT NULL,
    interface TEXT NOT NULL,
    host      TEXT NOT NULL DEFAULT '',
    UNIQUE (app, exe, user, interface, host)
  );
  INSERT INTO series_v4 (id, app, exe, user, interface) SELECT id, app, exe, user, interface FROM series;
  DROP TABLE series;
  ALTER TABLE series_v4 RENAME TO series;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function applicationId(db: Database.Database): number {
  return db.pragma('application_id', { simple: true }) as number;
}

/** Brings a writable database up to SCHEMA_VERSION; returns the version it had. */
export function migrate(db: Database.Database): number {
  const from = schemaVersion(db);
  // A step may rebuild a table others refer to (SQLite's way to change a constraint): the
  // references are checked once the step is done, not while the old table is dropped.
  // foreign_keys cannot change inside a transaction, hence around each one.
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  for (let version = from; version < MIGRATIONS.length; version++) {
    db.pragma('foreign_keys = OFF');
    try {
      migrateStep(db, version);
    } finally {
      db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
    }
  }
  return from;
}

function migrateStep(db: Database.Database, version: number): void {
  db.transaction(() => {
    db.exec(MIGRATIONS[version]!);
    if ((db.pragma('foreign_key_check') as unknown[]).length > 0) throw new Error(`history migration ${version + 1} broke a reference between tables`);
    // PRAGMAs take no bound parameters; both values are integers we control.
    db.pragma(`user_version = ${version + 1}`);
    db.pragma(`application_id = ${APPLICATION_ID}`);
  }).immediate();
}
