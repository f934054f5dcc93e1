// The alert engine's inputs and outputs as plain data: what a speed test and the usage
// meter tell it, and the decisions it hands back (docs/alerts.md). The speed test and the
// daemon map their own records onto these; nothing here knows how they were measured.

export type Family = 'ipv4' | 'ipv6';

/** One speed test result. Times are milliseconds since the epoch (UTC). */
export interface SpeedMeasurement {
  at: number;
  server: string;
  family: Family;
  interface?: string;
  downloadMbps?: number;
  uploadMbps?: number;
  latencyMs?: number;
  jitterMs?: number;
  /** Latency while the link was loaded by the test (bufferbloat). */
  loadedLatencyMs?: number;
  /** The test reached no server (or broke off): what the outage detector counts. */
  failed: boolean;
  /** Other traffic ran during the test, so a low result may not be the provider's. */
  contended: boolean;
  /** An early retest the engine asked for; it counts toward confirmation, not as a scheduled test. */
  retest?: boolean;
}

/**
 * What the meter sees locally, so a bad result is not blamed on the provider when the cause
 * is at home: the interface down, or the link already filled by other programs.
 */
export interface LocalState {
  at: number;
  interface: string;
  up: boolean;
  /** Share of the plan's download rate used by programs other than the speed test (0..1+). */
  otherTrafficShare?: number;
}

/** One interval of the usage meter; every part is optional. */
export interface UsageSample {
  at: number;
  /** The billing period so far (from src/history/billing.ts). */
  quota?: { periodStart: number; periodEnd: number; usedBytes: number; quotaBytes: number };
  /** Current rates per program, for the hog detector. */
  programs?: Array<{ app: string; interface?: string; bytesPerSecond: number }>;
  /** Packets captured and lost by the kernel per interface during this interval. */
  capture?: Array<{ interface: string; packets: number; dropped: number }>;
}

export type EventKind = 'open' | 'recovery' | 'reminder' | 'notice' | 'test';

/** An incident as messages and `netmeter alerts` show it. */
export interface Incident {
  /** Stable: derived from the detector, the subject and the opening time. */
  id: string;
  detector: string;
  /** The judged series inside the engine (detector, connection, family), for restoring after a restart. */
  series: string;
  /** speed, latency, outage, quota, projection, hog, capture-loss */
  type: string;
  /** What is judged: "eth0 ipv4 download", "firefox", ... */
  subject: string;
  connection?: string;
  family?: Family;
  /** When the problem started: the first bad result of those that confirmed it. */
  openedAt: number;
  /** When it was confirmed and the message went out. */
  confirmedAt?: number;
  closedAt?: number;
  /** One line a person reads: "download 48.1 Mbit/s, below 70.0 (70% of baseline)". */
  summary: string;
  /** At recovery: the result that closed it. */
  recovery?: string;
  /** The results that confirmed it (and, at recovery, those that closed it). */
  evidence: Evidence[];
  /** The plan's rate for this direction, when the detector is about speed. */
  planMbps?: number;
}

export interface Evidence {
  at: number;
  server?: string;
  value?: number;
  unit?: string;
  level?: number;
  retest?: boolean;
  /** Judged bad (below the problem level); false: at or past it. */
  bad?: boolean;
}

/** A message to send: the event id is what receivers drop repeats by. */
export interface AlertEvent {
  id: string;
  kind: EventKind;
  at: number;
  incident: Incident;
}

export type Decision =
  | { kind: 'notify'; event: AlertEvent }
  /** A message the engine held back: a silence or a maintenance window covers it. */
  | { kind: 'held'; event: AlertEvent; reason: string }
  /** Run a speed test soon, on `server` when given, to confirm or clear a bad result. */
  | { kind: 'retest'; at: number; family: Family; interface?: string; server?: string; reason: string }
  /** A result that was not counted, and why (contended, local cause, maintenance). */
  | { kind: 'set-aside'; at: number; detector: string; reason: string };
