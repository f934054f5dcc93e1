// The alert engine: takes speed test results, usage samples and the local state, runs every
// configured detector over them and hands back decisions — a message to send (or held by a
// silence), an early retest, a result set aside and why. Pure and clock-injected: time
// comes only from the inputs and tick(now), so a test drives months of history in
// milliseconds. The daemon persists incidents and delivers messages (outbox.ts, notifier.ts).

import { createHash } from 'node:crypto';
import { SpeedBaseline } from './baseline.js';
import type { AlertsConfig, ConnectionConfig, DetectorConfig, SilenceConfig, SpeedLevel } from './config.js';
import { ConfirmationWindow, type Step, type Verdict } from './confirmation.js';
import { inMaintenance, silenceAt } from './silences.js';
import { SustainedCondition } from './sustained.js';
import type { AlertEvent, Decision, EventKind, Evidence, Incident, LocalState, SpeedMeasurement, UsageSample } from './types.js';

type SeriesDetector = Extract<DetectorConfig, { type: 'speed' | 'latency' | 'outage' }>;

interface Series {
  window: ConfirmationWindow;
  evidence: Evidence[];
  incident?: Incident;
}

interface OpenIncident {
  incident: Incident;
  detector: DetectorConfig;
  /** When the last message about it went out; undefined while its opening is held. */
  lastSentAt?: number;
  reminders: number;
}

interface Judgment {
  verdict: Verdict;
  evidence: Evidence;
  summary: string;
  planMbps?: number;
}

export class AlertEngine {
  private readonly series = new Map<string, Series>();
  private readonly baseline: SpeedBaseline;
  private readonly local = new Map<string, LocalState>();
  private readonly open = new Map<string, OpenIncident>();
  private held: Array<{ event: AlertEvent; detector: string }> = [];
  private readonly fired = new Set<string>();
  private readonly sustained = new Map<string, { condition: SustainedCondition; incident?: Incident }>();
  private extraSilences: SilenceConfig[] = [];

  constructor(private readonly config: AlertsConfig) {
    this.baseline = new SpeedBaseline(config.baseline, config.timeZone);
  }

  /** Silences added at run time (`netmeter alerts silence`, stored in the database). */
  setSilences(silences: SilenceConfig[]): void {
    this.extraSilences = silences;
  }

  observeLocal(state: LocalState): void {
    this.local.set(state.interface, state);
  }

  /** Incidents open now, for `netmeter alerts` and for saving across a restart. */
  openIncidents(): Incident[] {
    return [...this.open.values()].map((o) => o.incident);
  }

  /**
   * After a restart: incidents the database says are open stay open (no second message).
   * Those in `held` never had their opening sent (a silence held it): it waits again.
   */
  restoreOpen(incidents: Incident[], now: number, held: ReadonlySet<string> = new Set()): void {
    for (const incident of incidents) {
      const detector = this.config.detectors.find((d) => d.name === incident.detector);
      if (detector === undefined) continue;
      const wasHeld = held.has(incident.id);
      this.open.set(incident.id, { incident, detector, reminders: 0, ...(wasHeld ? {} : { lastSentAt: now }) });
      if (wasHeld) this.held.push({ event: this.event(incident, 'open', incident.confirmedAt ?? incident.openedAt, 'open'), detector: detector.name });
      if (detector.type === 'speed' || detector.type === 'latency' || detector.type === 'outage') {
        const series = this.seriesFor(incident.series, detector);
        series.window.open = true;
        series.incident = incident;
      } else if (detector.type === 'hog' || detector.type === 'captureLoss') {
        const entry = this.sustainedFor(incident.series, detector);
        entry.condition.open = true;
        entry.incident = incident;
      }
    }
  }

  /**
   * After a restart: the baselines relearn from stored results (clean scheduled ones, and
   * not while an incident of that series was open, as if frozen then). Nothing is judged.
   */
  warmBaseline(history: SpeedMeasurement[], incidents: Incident[]): void {
    for (const m of history) {
      if (m.retest === true || m.contended || m.failed) continue;
      const connection = this.connectionFor(m.interface);
      for (const detector of this.config.detectors) {
        if (detector.type !== 'speed') continue;
        const key = `${detector.name}|${connection?.name ?? m.interface ?? ''}|${m.family}`;
        if (incidents.some((i) => i.series === key && i.openedAt <= m.at && m.at < (i.closedAt ?? Infinity))) continue;
        this.learn(key, m, detector.direction);
      }
    }
  }

  observeSpeed(m: SpeedMeasurement): Decision[] {
    const decisions: Decision[] = [];
    const connection = this.connectionFor(m.interface);
    const maintenance = inMaintenance(this.config.maintenance, m.at, this.config.timeZone);
    const local = m.interface === undefined ? undefined : this.local.get(m.interface);
    let retest = false;
    for (const detector of this.config.detectors) {
      if (detector.type !== 'speed' && detector.type !== 'latency' && detector.type !== 'outage') continue;
      const key = `${detector.name}|${connection?.name ?? m.interface ?? ''}|${m.family}`;
      const series = this.seriesFor(key, detector);
      const judgment = this.judge(detector, m, connection, key);
      const clean = !maintenance && local?.up !== false && (local?.otherTrafficShare ?? 0) <= this.config.saturationShare && !m.contended && m.retest !== true;
      if (judgment === undefined) {
        // Nothing to judge against yet (no baseline): the result still teaches the baseline.
        if (clean && detector.type === 'speed') this.learn(key, m, detector.direction);
        continue;
      }
      const setAside = (reason: string) => decisions.push({ kind: 'set-aside', at: m.at, detector: detector.name, reason });
      if (maintenance) {
        setAside('maintenance window');
        continue;
      }
      // Before blaming the provider: causes the meter can see at home.
      if (local !== undefined && !local.up) {
        setAside(`interface ${local.interface} is down`);
        continue;
      }
      const saturated = detector.type !== 'outage' && (local?.otherTrafficShare ?? 0) > this.config.saturationShare;
      let step: Step;
      if (judgment.verdict === 'bad' && (m.contended || saturated)) {
        // Never opens an incident on its own; a clean retest tells.
        setAside(saturated ? `link saturated by other programs (${Math.round(local!.otherTrafficShare! * 100)}% of the plan)` : 'contended: other traffic during the test');
        step = series.window.setAside(m.retest !== true);
      } else {
        series.evidence.push({ ...judgment.evidence, bad: judgment.verdict === 'bad' });
        step = series.window.push(judgment.verdict, m.retest !== true, () => detector.type !== 'outage' || this.failedOnEnoughServers(series, detector.confirm.of));
        const keep = detector.confirm.of + detector.confirm.recoverAfter;
        if (series.evidence.length > keep) series.evidence.splice(0, series.evidence.length - keep);
      }
      // The baseline learns from clean scheduled results only, and is frozen while an incident is open.
      if (detector.type === 'speed' && clean && !series.window.open) this.learn(key, m, detector.direction);
      if (step.kind === 'retest') retest = true;
      else if (step.kind === 'open') decisions.push(...this.openIncident(detector, key, series, judgment, m, connection));
      else if (step.kind === 'recover') decisions.push(...this.recoverIncident(series, m.at, judgment.summary));
    }
    if (retest) {
      const servers = this.config.servers;
      const index = servers.indexOf(m.server);
      const server = servers.length > 1 ? servers[(index + 1) % servers.length] : undefined;
      decisions.push({ kind: 'retest', at: m.at + this.config.retestDelayMs, family: m.family, ...(m.interface === undefined ? {} : { interface: m.interface }), ...(server === undefined ? {} : { server }), reason: 'confirm a bad result' });
    }
    return decisions;
  }

  observeUsage(u: UsageSample): Decision[] {
    const decisions: Decision[] = [];
    for (const detector of this.config.detectors) {
      if (detector.type === 'quota' && u.quota !== undefined) {
        const q = u.quota;
        const share = q.usedBytes / q.quotaBytes;
        const crossed = detector.shares.filter((s) => share >= s && !this.fired.has(`${detector.name}|${q.periodStart}|${s}`));
        if (crossed.length === 0) continue;
        // Several shares crossed at once (the daemon was off): one message, for the highest.
        for (const s of crossed) this.fired.add(`${detector.name}|${q.periodStart}|${s}`);
        const s = crossed[crossed.length - 1]!;
        decisions.push(...this.notice(detector, `quota ${Math.round(s * 100)}%`, `${q.periodStart}|${s}`, u.at,
          `${Math.round(share * 100)}% of the monthly quota used: ${gb(q.usedBytes)} of ${gb(q.quotaBytes)}`));
      } else if (detector.type === 'projection' && u.quota !== undefined) {
        const q = u.quota;
        const length = q.periodEnd - q.periodStart;
        const elapsed = u.at - q.periodStart;
        if (elapsed <= 0 || elapsed < detector.minElapsedShare * length || q.usedBytes >= q.quotaBytes) continue;
        const projected = (q.usedBytes * length) / elapsed;
        const key = `${detector.name}|${q.periodStart}`;
        if (projected <= q.quotaBytes || this.fired.has(key)) continue;
        this.fired.add(key);
        decisions.push(...this.notice(detector, 'projection', String(q.periodStart), u.at,
          `at this pace the period ends at ${gb(projected)}, over the quota of ${gb(q.quotaBytes)} (${gb(q.usedBytes)} used so far)`));
      } else if (detector.type === 'hog' && u.programs !== undefined) {
        const linkMbps = detector.linkMbps ?? this.config.connections.find((c) => c.downloadMbps !== undefined)?.downloadMbps ?? 0;
        const rates = new Map<string, number>();
        for (const p of u.programs) rates.set(p.app, (rates.get(p.app) ?? 0) + (p.bytesPerSecond * 8) / 1e6);
        const keys = new Set([...rates.keys()].map((app) => `${detector.name}|${app}`));
        for (const key of this.sustained.keys()) if (key.startsWith(`${detector.name}|`)) keys.add(key);
        for (const key of keys) {
          const app = key.slice(detector.name.length + 1);
          const share = (rates.get(app) ?? 0) / linkMbps;
          decisions.push(...this.sustain(detector, key, app, u.at, share >= detector.share, share <= detector.recoverShare,
            `${app} used ${Math.round(share * 100)}% of the ${linkMbps} Mbit/s link for ${Math.round(detector.forMs / 60_000)} min or more`, `${app} is back under ${Math.round(detector.recoverShare * 100)}% of the link`));
        }
      } else if (detector.type === 'captureLoss' && u.capture !== undefined) {
        for (const c of u.capture) {
          const total = c.packets + c.dropped;
          const share = total === 0 ? 0 : c.dropped / total;
          decisions.push(...this.sustain(detector, `${detector.name}|${c.interface}`, c.interface, u.at, share > detector.share, share <= detector.recoverShare,
            `capture on ${c.interface} lost ${(share * 100).toFixed(2)}% of packets (${c.dropped} of ${total}): usage figures are short`, `capture on ${c.interface} keeps up again`));
        }
      }
    }
    return decisions;
  }

  /** Time passing without input: held messages whose silence ended go out; reminders. */
  tick(now: number): Decision[] {
    const decisions: Decision[] = [];
    const still: typeof this.held = [];
    for (const entry of this.held) {
      if (this.silenced(now, entry.detector) !== undefined) {
        still.push(entry);
        continue;
      }
      decisions.push({ kind: 'notify', event: entry.event });
      const open = this.open.get(entry.event.incident.id);
      if (open !== undefined) open.lastSentAt = now;
    }
    this.held = still;
    for (const open of this.open.values()) {
      const every = open.detector.remindEveryMs;
      if (every === undefined || open.lastSentAt === undefined || now - open.lastSentAt < every) continue;
      open.lastSentAt = now;
      if (this.silenced(now, open.detector.name) !== undefined) continue;
      open.reminders++;
      decisions.push({ kind: 'notify', event: this.event(open.incident, 'reminder', now, `reminder-${open.reminders}`) });
    }
    return decisions;
  }

  private judge(detector: SeriesDetector, m: SpeedMeasurement, connection: ConnectionConfig | undefined, key: string): Judgment | undefined {
    const evidence: Evidence = { at: m.at, server: m.server, ...(m.retest ? { retest: true } : {}) };
    if (detector.type === 'outage') {
      return { verdict: m.failed ? 'bad' : 'good', evidence, summary: m.failed ? `speed tests reached no server (last: ${m.server})` : `speed tests reach ${m.server} again` };
    }
    if (m.failed) return undefined;
    if (detector.type === 'latency') {
      const value = m[`${detector.metric}Ms`];
      if (value === undefined) return undefined;
      const name = { latency: 'latency', jitter: 'jitter', loadedLatency: 'latency under load' }[detector.metric];
      const verdict: Verdict = value > detector.aboveMs ? 'bad' : value <= detector.recoverBelowMs ? 'good' : 'between';
      return { verdict, evidence: { ...evidence, value, unit: 'ms', level: detector.aboveMs }, summary: `${name} ${value.toFixed(1)} ms (level ${detector.aboveMs} ms, recovered at ${detector.recoverBelowMs} ms)` };
    }
    const value = m[`${detector.direction}Mbps`];
    if (value === undefined) return undefined;
    const plan = connection?.[`${detector.direction}Mbps`];
    // A server without history of its own (a retest elsewhere) is judged by the connection's.
    const baseline = this.baseline.valueAt(this.baselineKey(key, m.server), m.at) ?? this.baseline.valueAt(key, m.at);
    const low = levelMbps(detector.below, plan, baseline);
    const high = levelMbps(detector.recoverAbove, plan, baseline);
    // No baseline yet and no plan floor: nothing to judge against.
    if (low === undefined || high === undefined) return undefined;
    const verdict: Verdict = value < low.mbps ? 'bad' : value >= high.mbps ? 'good' : 'between';
    const share = plan === undefined ? '' : `, ${Math.round((value / plan) * 100)}% of the ${plan} Mbit/s plan`;
    return {
      verdict,
      evidence: { ...evidence, value, unit: 'Mbit/s', level: low.mbps },
      summary: `${detector.direction} ${value.toFixed(1)} Mbit/s from ${m.server}${share}; level ${low.mbps.toFixed(1)} Mbit/s (${low.why}), recovered at ${high.mbps.toFixed(1)}`,
      ...(plan === undefined ? {} : { planMbps: plan }),
    };
  }

  private openIncident(detector: SeriesDetector, key: string, series: Series, judgment: Judgment, m: SpeedMeasurement, connection: ConnectionConfig | undefined): Decision[] {
    const what = detector.type === 'speed' ? detector.direction : detector.type === 'latency' ? detector.metric : 'outage';
    const subject = `${connection?.name ?? m.interface ?? 'connection'} ${m.family} ${what}`;
    const incident: Incident = {
      id: stableId(detector.name, key, String(m.at)),
      detector: detector.name,
      series: key,
      type: detector.type,
      subject,
      family: m.family,
      openedAt: series.evidence.slice(-detector.confirm.of).find((e) => e.bad)?.at ?? m.at,
      confirmedAt: m.at,
      summary: judgment.summary,
      evidence: [...series.evidence],
      ...(connection === undefined ? {} : { connection: connection.name }),
      ...(judgment.planMbps === undefined ? {} : { planMbps: judgment.planMbps }),
    };
    series.incident = incident;
    return this.start(incident, detector);
  }

  private recoverIncident(series: Series, at: number, summary: string): Decision[] {
    const incident = series.incident;
    series.incident = undefined;
    if (incident === undefined) return [];
    return this.finish(incident, at, summary, series.evidence.slice(-3));
  }

  private start(incident: Incident, detector: DetectorConfig): Decision[] {
    const open: OpenIncident = { incident, detector, reminders: 0 };
    this.open.set(incident.id, open);
    const at = incident.confirmedAt ?? incident.openedAt;
    const decision = this.send(this.event(incident, 'open', at, 'open'), detector.name);
    if (decision.kind === 'notify') open.lastSentAt = at;
    return [decision];
  }

  private finish(incident: Incident, at: number, summary: string, evidence: Evidence[]): Decision[] {
    const open = this.open.get(incident.id);
    this.open.delete(incident.id);
    // A new object: the opening's event still holds the incident as it was then.
    const closed: Incident = { ...incident, closedAt: at, evidence: [...incident.evidence, ...evidence], recovery: summary };
    const event = this.event(closed, 'recovery', at, 'recovery');
    // Opened and recovered within a silence: neither message is worth sending afterwards.
    const heldOpen = this.held.findIndex((h) => h.event.incident.id === incident.id && h.event.kind === 'open');
    if (heldOpen >= 0) {
      this.held.splice(heldOpen, 1);
      return [{ kind: 'held', event, reason: 'opened and recovered while silenced' }];
    }
    return [this.send(event, open?.detector.name ?? incident.detector)];
  }

  private notice(detector: DetectorConfig, subject: string, key: string, at: number, summary: string): Decision[] {
    const incident: Incident = { id: stableId(detector.name, key), detector: detector.name, series: `${detector.name}|${key}`, type: detector.type, subject, openedAt: at, closedAt: at, summary, evidence: [] };
    return [this.send(this.event(incident, 'notice', at, 'notice'), detector.name)];
  }

  private sustain(detector: Extract<DetectorConfig, { type: 'hog' | 'captureLoss' }>, key: string, subject: string, at: number, above: boolean, clear: boolean, openSummary: string, recoverSummary: string): Decision[] {
    const entry = this.sustainedFor(key, detector);
    const step = entry.condition.push(at, above, clear);
    if (step === 'open') {
      entry.incident = { id: stableId(detector.name, key, String(at)), detector: detector.name, series: key, type: detector.type === 'hog' ? 'hog' : 'capture-loss', subject, openedAt: at, summary: openSummary, evidence: [] };
      return this.start(entry.incident, detector);
    }
    if (step === 'recover' && entry.incident !== undefined) {
      const incident = entry.incident;
      entry.incident = undefined;
      return this.finish(incident, at, recoverSummary, []);
    }
    return [];
  }

  private send(event: AlertEvent, detector: string): Decision {
    const silence = this.silenced(event.at, detector);
    if (silence === undefined) return { kind: 'notify', event };
    this.held.push({ event, detector });
    return { kind: 'held', event, reason: silence };
  }

  private silenced(at: number, detector: string): string | undefined {
    const silence = silenceAt([...this.config.silences, ...this.extraSilences], at, detector);
    if (silence !== undefined) return `silenced until ${new Date(silence.until).toISOString()}${silence.reason ? ` (${silence.reason})` : ''}`;
    if (inMaintenance(this.config.maintenance, at, this.config.timeZone)) return 'maintenance window';
    return undefined;
  }

  private event(incident: Incident, kind: EventKind, at: number, suffix: string): AlertEvent {
    return { id: `${incident.id}-${suffix}`, kind, at, incident };
  }

  private seriesFor(key: string, detector: SeriesDetector): Series {
    let series = this.series.get(key);
    if (series === undefined) this.series.set(key, (series = { window: new ConfirmationWindow(detector.confirm), evidence: [] }));
    return series;
  }

  private sustainedFor(key: string, detector: Extract<DetectorConfig, { type: 'hog' | 'captureLoss' }>) {
    let entry = this.sustained.get(key);
    if (entry === undefined) this.sustained.set(key, (entry = { condition: new SustainedCondition(detector.forMs, detector.forMs) }));
    return entry;
  }

  /** An outage means no server answered: with several servers configured, failures on two of them. */
  private failedOnEnoughServers(series: Series, of: number): boolean {
    const servers = new Set(series.evidence.slice(-of).filter((e) => e.bad).map((e) => e.server));
    return servers.size >= Math.min(2, this.config.servers.length);
  }

  private learn(key: string, m: SpeedMeasurement, direction: 'download' | 'upload'): void {
    const value = m[`${direction}Mbps`];
    if (value === undefined || m.failed) return;
    this.baseline.add(this.baselineKey(key, m.server), m.at, value);
    this.baseline.add(key, m.at, value);
  }

  private baselineKey(seriesKey: string, server: string): string {
    return `${seriesKey}|${server}`;
  }

  private connectionFor(iface: string | undefined): ConnectionConfig | undefined {
    const connections = this.config.connections;
    return connections.find((c) => c.interface !== undefined && c.interface === iface) ?? connections.find((c) => c.interface === undefined) ?? (connections.length === 1 ? connections[0] : undefined);
  }
}

function levelMbps(level: SpeedLevel, plan: number | undefined, baseline: number | undefined): { mbps: number; why: string } | undefined {
  if (level.kind === 'mbps') return { mbps: level.mbps, why: 'fixed' };
  if (level.kind === 'plan') return plan === undefined ? undefined : { mbps: level.share * plan, why: `${pct(level.share)} of the plan` };
  const fromBaseline = baseline === undefined ? undefined : level.share * baseline;
  const floor = level.planFloor === undefined || plan === undefined ? undefined : level.planFloor * plan;
  if (fromBaseline === undefined && floor === undefined) return undefined;
  if (floor === undefined || (fromBaseline !== undefined && fromBaseline >= floor)) return { mbps: fromBaseline!, why: `${pct(level.share)} of the usual ${baseline!.toFixed(1)} Mbit/s` };
  return { mbps: floor, why: `plan floor, ${pct(level.planFloor!)} of the plan` };
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/** The same inputs give the same id after a restart: receivers drop repeats by it. */
export function stableId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 20);
}
