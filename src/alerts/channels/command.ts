// The command channel: runs the configured program with the event in environment variables
// (NETMETER_EVENT_ID, NETMETER_EVENT_KIND, NETMETER_SUBJECT, NETMETER_SUMMARY, ...) and the
// JSON document on stdin; exit status 0 means delivered. The config that names it must be
// root's alone (secrets.ts), since the daemon runs it as root.

import { spawn } from 'node:child_process';
import type { ChannelConfig } from '../config.js';
import { eventDocument, type RenderedMessage } from '../message.js';
import type { AlertEvent } from '../types.js';
import type { Channel } from './channel.js';
import { DeliveryError } from './delivery-error.js';

export class CommandChannel implements Channel {
  readonly name: string;

  constructor(
    private readonly config: Extract<ChannelConfig, { type: 'command' }>,
    private readonly timeoutMs: number,
    private readonly render: (event: AlertEvent, complaint: boolean) => RenderedMessage,
  ) {
    this.name = config.name;
  }

  send(event: AlertEvent): Promise<void> {
    const message = this.render(event, false);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      NETMETER_EVENT_ID: event.id,
      NETMETER_EVENT_KIND: event.kind,
      NETMETER_INCIDENT_ID: event.incident.id,
      NETMETER_DETECTOR: event.incident.detector,
      NETMETER_SUBJECT: event.incident.subject,
      NETMETER_SUMMARY: event.incident.summary,
      NETMETER_OPENED_AT: new Date(event.incident.openedAt).toISOString(),
      NETMETER_MESSAGE_SUBJECT: message.subject,
      ...(event.incident.closedAt === undefined ? {} : { NETMETER_CLOSED_AT: new Date(event.incident.closedAt).toISOString() }),
    };
    const [program, ...args] = this.config.command;
    return new Promise((resolve, reject) => {
      const child = spawn(program!, args, { env, stdio: ['pipe', 'ignore', 'pipe'], timeout: this.timeoutMs, killSignal: 'SIGKILL' });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 1000) stderr += chunk.toString();
      });
      child.stdin.on('error', () => {
        // The program need not read its stdin.
      });
      child.stdin.end(`${JSON.stringify(eventDocument(event))}\n`);
      child.on('error', (error: NodeJS.ErrnoException) => reject(new DeliveryError(`cannot run ${program} (${error.code ?? error.message})`)));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else {
          const why = signal !== null ? `killed by ${signal}${signal === 'SIGKILL' ? ` (took over ${this.timeoutMs / 1000} s)` : ''}` : `exit status ${code}`;
          reject(new DeliveryError(`${program}: ${why}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`));
        }
      });
    });
  }
}
