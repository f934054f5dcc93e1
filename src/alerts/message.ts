// What a message says, for every channel: a subject line, a text body and the JSON
// document. Email with `complaint: true` is written to the provider's support desk as a
// complaint it can act on (connection, plan, what was measured when and against which
// server, the share of the plan delivered, how long it has lasted); otherwise to the user.
// Built from the event alone: no secret ever reaches a message.

import type { ConnectionConfig } from './config.js';
import type { AlertEvent, Evidence } from './types.js';

export interface RenderedMessage {
  subject: string;
  text: string;
}

/** The JSON document a webhook receives and a command reads on stdin (docs/alerts.md). */
export function eventDocument(event: AlertEvent): Record<string, unknown> {
  const i = event.incident;
  return {
    version: 1,
    id: event.id,
    kind: event.kind,
    at: isoMachine(event.at),
    incident: {
      id: i.id,
      detector: i.detector,
      type: i.type,
      subject: i.subject,
      ...(i.connection === undefined ? {} : { connection: i.connection }),
      ...(i.family === undefined ? {} : { family: i.family }),
      openedAt: isoMachine(i.openedAt),
      ...(i.closedAt === undefined ? {} : { closedAt: isoMachine(i.closedAt) }),
      durationSeconds: Math.round(((i.closedAt ?? event.at) - i.openedAt) / 1000),
      summary: i.summary,
      ...(i.recovery === undefined ? {} : { recovery: i.recovery }),
      ...(i.planMbps === undefined ? {} : { planMbps: i.planMbps }),
      evidence: i.evidence.map((e) => ({ ...e, at: isoMachine(e.at) })),
    },
  };
}

export function renderMessage(event: AlertEvent, connection: ConnectionConfig | undefined, complaint: boolean): RenderedMessage {
  const i = event.incident;
  if (event.kind === 'test') return { subject: 'netmeter: test message', text: `This is a test message from netmeter (event ${event.id}): this channel works.\n` };
  const state = { open: 'problem', recovery: 'recovered', reminder: 'still a problem', notice: 'notice', test: 'test' }[event.kind];
  const duration = formatDuration((i.closedAt ?? event.at) - i.openedAt);
  const plan = connection === undefined ? '' : planText(connection);
  // The share delivered while the problem lasted: the results judged bad, not those that closed it.
  const shares = i.planMbps === undefined ? [] : i.evidence.filter((e) => e.value !== undefined && e.unit === 'Mbit/s' && e.bad !== false).map((e) => e.value! / i.planMbps!);
  const deliveredShare = shares.length === 0 ? undefined : median(shares);
  const measured = i.evidence.map((e) => `  ${measurementLine(e, i.planMbps)}`).join('\n');
  if (!complaint) {
    const subject = `netmeter: ${state}: ${i.subject}`;
    const text = [
      `${i.subject}: ${state}${event.kind === 'recovery' ? ` after ${duration}` : event.kind === 'notice' ? '' : ` since ${iso(i.openedAt)} (${duration})`}.`,
      i.summary,
      ...(i.recovery === undefined ? [] : [`Recovered: ${i.recovery}`]),
      ...(plan ? [`Connection ${i.connection ?? ''}${plan}.`] : []),
      ...(deliveredShare === undefined ? [] : [`Median of the results below the level: ${pct(deliveredShare)} of the plan.`]),
      ...(measured ? ['', 'Measured:', measured] : []),
      '',
      `Event ${event.id} (netmeter alerts lists incidents).`,
    ].join('\n');
    return { subject, text: `${text}\n` };
  }
  const provider = connection?.provider ?? 'support team';
  const what = i.type === 'outage' ? 'no connection' : i.type === 'speed' ? `slow ${i.subject.split(' ').pop()}` : i.type === 'latency' ? 'high latency' : i.type;
  const subject = event.kind === 'recovery'
    ? `Resolved: ${what} on connection "${i.connection ?? i.subject}" (${duration}, since ${iso(i.openedAt)})`
    : `${what[0]!.toUpperCase()}${what.slice(1)} on connection "${i.connection ?? i.subject}"${deliveredShare === undefined ? '' : `: ${pct(deliveredShare)} of the plan`} since ${iso(i.openedAt)}`;
  const lines = [
    `Dear ${provider},`,
    '',
    `I am writing about my connection "${i.connection ?? i.subject}"${plan}.`,
    event.kind === 'recovery'
      ? `From ${iso(i.openedAt)} to ${iso(i.closedAt ?? event.at)} (${duration}) it did not deliver what the contract promises; it has now recovered.`
      : `Since ${iso(i.openedAt)} (${duration} so far) it does not deliver what the contract promises.`,
    '',
    `Finding: ${i.summary}.`,
    ...(i.recovery === undefined ? [] : [`Back to normal: ${i.recovery}.`]),
    ...(deliveredShare === undefined ? [] : [`Share of the plan delivered (median of the results below the level): ${pct(deliveredShare)}.`]),
    '',
    `Automated measurements (${i.family === 'ipv6' ? 'IPv6' : 'IPv4'}, times in UTC):`,
    measured || '  (none recorded)',
    '',
    'Results taken while other traffic was on the line, or while my own equipment was down, are not counted above.',
    event.kind === 'recovery' ? 'Please take this period into account (for example for a credit) and let me know its cause.' : 'Please investigate the line and let me know what you find and when it will be fixed.',
    '',
    `Reference: ${i.id} (sent by netmeter; the same reference means the same report).`,
  ];
  return { subject, text: `${lines.join('\n')}\n` };
}

function measurementLine(e: Evidence, planMbps: number | undefined): string {
  const value = e.value === undefined ? 'no result (test failed)' : `${e.value.toFixed(1)} ${e.unit ?? ''}`.trim();
  const share = e.value !== undefined && e.unit === 'Mbit/s' && planMbps !== undefined ? ` (${pct(e.value / planMbps)} of plan)` : '';
  return `${iso(e.at)}  server ${e.server ?? '-'}  ${value}${share}${e.retest ? '  [retest]' : ''}`;
}

function planText(c: ConnectionConfig): string {
  const parts = [c.downloadMbps === undefined ? '' : `${c.downloadMbps} Mbit/s download`, c.uploadMbps === undefined ? '' : `${c.uploadMbps} Mbit/s upload`].filter(Boolean);
  return `${c.provider === undefined ? '' : ` with ${c.provider}`}${parts.length ? `, plan ${parts.join(' / ')}` : ''}`;
}

export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  return [days ? `${days} d` : '', hours ? `${hours} h` : '', `${rest} min`].filter(Boolean).join(' ').replace(/ 0 min$/, '') || '0 min';
}

/** For machines: full ISO 8601 in UTC. */
function isoMachine(t: number): string {
  return new Date(t).toISOString();
}

/** For people: minutes are enough. */
function iso(t: number): string {
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
