// Opening and closing the history database: WAL and migrations for the daemon, read-only
// for reports, the calendar functions queries group by, and every SQLite failure turned
// into one line that says what is wrong with which file and what to do.

import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { NetmeterError } from '../errors.js';
import { dayStart, hourStart, monthStart } from './calendar.js';
import { APPLICATION_ID, SCHEMA_VERSION, applicationId, migrate, schemaVersion } from './schema.js';

export class HistoryDatabaseError extends NetmeterError {
  override name = 'HistoryDatabaseError';
}

export type HistoryDb = Database.Database;

export interface OpenOptions {
  /** Reading: the history format the reader needs at least (default 1: the usage tables). */
  needsVersion?: number;
  /** How long to wait for another connection's lock before giving up. */
  busyTimeoutMs?: number;
}

/**
 * The daemon's connection. WAL lets reports read while it writes; synchronous=FULL makes
 * each minute's commit reach the disk, so a power cut loses at most the minute under way.
 */
export function openHistoryForWriting(path: string, options: OpenOptions = {}): HistoryDb {
  const directory = dirname(path);
  try {
    makeDirectories(directory);
  } catch (error) {
    throw new HistoryDatabaseError(`cannot create the directory ${directory} for the history database (${codeOf(error)}): choose a writable place with --db`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new HistoryDatabaseError(`${path} is a directory: --db takes the database file's path (e.g. ${path.replace(/\/$/, '')}/netmeter.db)`);
  }
  return withSqliteErrors(path, 'write', () => {
    const created = !existsSync(path);
    const db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new HistoryDatabaseError(`${path}: SQLite would not switch the database to WAL mode (it stayed in ${String(mode)} mode)`);
      db.pragma('synchronous = FULL');
      checkOwnership(path, db);
      if (schemaVersion(db) > SCHEMA_VERSION) throw newerSchema(path, db);
      migrate(db);
      registerCalendarFunctions(db);
    } catch (error) {
      db.close();
      throw error;
    }
    if (created) chmodSync(path, 0o644);
    return db;
  });
}

/**
 * mkdir -p, by hand: Node's recursive mkdirSync spins forever where mkdir fails with ENOENT
 * under an existing parent (/proc/x). 0755: `netmeter report` needs no privilege when the
 * database is readable.
 */
function makeDirectories(directory: string): void {
  if (existsSync(directory)) {
    if (!statSync(directory).isDirectory()) throw Object.assign(new Error(`${directory} is not a directory`), { code: 'ENOTDIR' });
    return;
  }
  const parent = dirname(directory);
  if (parent !== directory) makeDirectories(parent);
  mkdirSync(directory, { mode: 0o755 });
}

/** A report's connection: read-only, so it needs only read permission on the file. */
export function openHistoryForReading(path: string, options: OpenOptions = {}): HistoryDb {
  if (!existsSync(path)) {
    throw new HistoryDatabaseError(`no history database at ${path}: start the daemon (sudo netmeter daemon, see docs/history.md) or name one with --db`);
  }
  return withSqliteErrors(path, 'read', () => {
    const db = new Database(path, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs ?? 2000 });
    try {
      checkOwnership(path, db);
      const version = schemaVersion(db);
      if (version > SCHEMA_VERSION) throw newerSchema(path, db);
      // Migrations only add tables: a reader needs only the version that added what it reads.
      if (version < (options.needsVersion ?? 1)) {
        throw new HistoryDatabaseError(`${path} has an older history format (version ${version}): run the daemon once (sudo netmeter daemon) to update it`);
      }
      registerCalendarFunctions(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return db;
  });
}

/**
 * Closes the daemon's connection. The switch back to a rollback journal removes the -wal and
 * -shm files: without them a user who may not write the directory can still open the
 * database read-only while the daemon is stopped (SQLite would otherwise need to create them).
 */
export function closeHistory(db: HistoryDb): void {
  if (!db.open) return;
  if (!db.readonly) {
    try {
      db.pragma('journal_mode = DELETE');
    } catch {
      // Another connection is reading: the files stay, which only costs that convenience.
    }
  }
  db.close();
}

/** nm_hour(t), nm_day(t), nm_month(t): local period starts, for GROUP BY and roll-up. */
function registerCalendarFunctions(db: HistoryDb): void {
  db.function('nm_hour', { deterministic: true }, (t) => hourStart(Number(t)));
  db.function('nm_day', { deterministic: true }, (t) => dayStart(Number(t)));
  db.function('nm_month', { deterministic: true }, (t) => monthStart(Number(t)));
}

/** A file that is SQLite but not ours (another program's database, an unrelated file someone pointed --db at). */
function checkOwnership(path: string, db: HistoryDb): void {
  const id = applicationId(db);
  if (id === APPLICATION_ID) return;
  const tables = db.prepare<{ n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get()!.n;
  if (id !== 0 || tables > 0) {
    throw new HistoryDatabaseError(`${path} is an SQLite database, but not a netmeter history: name another file with --db`);
  }
}

function newerSchema(path: string, db: HistoryDb): HistoryDatabaseError {
  return new HistoryDatabaseError(`${path} was written by a newer netmeter (history format ${schemaVersion(db)}, this one knows ${SCHEMA_VERSION}): upgrade netmeter`);
}

/** Runs fn and turns SQLite's and the file system's errors into HistoryDatabaseErrors. */
export function withSqliteErrors<T>(path: string, access: 'read' | 'write', fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw describeSqliteError(path, access, error);
  }
}

export function describeSqliteError(path: string, access: 'read' | 'write', error: unknown): Error {
  if (error instanceof NetmeterError) return error;
  const code = codeOf(error);
  const sqlite = error instanceof Error ? error.message.replace(/\s+/g, ' ') : String(error);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new HistoryDatabaseError(`${path} is damaged or is not a database (SQLite: ${sqlite}): move it aside and the daemon starts a new one, or name another file with --db`);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new HistoryDatabaseError(access === 'write'
      ? `${path} is locked by another process (SQLite: ${sqlite}): is another netmeter daemon writing to it? Stop it, or use another --db`
      : `${path} is locked by another process (SQLite: ${sqlite}): try again in a moment`);
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new HistoryDatabaseError(access === 'write'
      ? `cannot write the history database ${path} (${code}: ${sqlite}): run as root (sudo netmeter daemon) or choose a writable place with --db`
      : `cannot read the history database ${path} (${code}: ${sqlite}): ask for read permission on it, or name another with --db`);
  }
  if (code === 'SQLITE_FULL') return new HistoryDatabaseError(`the disk holding ${path} is full (SQLite: ${sqlite})`);
  if (code.startsWith('SQLITE_IOERR')) return new HistoryDatabaseError(`input/output error on ${path} (${code}: ${sqlite}): check the disk`);
  if (code.startsWith('SQLITE_')) return new HistoryDatabaseError(`${path}: SQLite error ${code}: ${sqlite}`);
  return error instanceof Error ? error : new Error(String(error));
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : '';
}
