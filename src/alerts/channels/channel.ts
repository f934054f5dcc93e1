// What every delivery channel is to the notifier: a name and a send that resolves when the
// receiver has taken the message, or throws a DeliveryError with one line saying why.
// `channelFor` builds one from its config.

import type { AlertsConfig, ChannelConfig } from '../config.js';
import { renderMessage } from '../message.js';
import { PROCESS_SECRETS, type SecretSource } from '../secrets.js';
import type { AlertEvent } from '../types.js';
import { CommandChannel } from './command.js';
import { EmailChannel } from './email.js';
import { HttpChannel } from './http.js';

export { DeliveryError } from './delivery-error.js';

export interface Channel {
  readonly name: string;
  send(event: AlertEvent): Promise<void>;
}

export interface ChannelOptions {
  secrets?: SecretSource;
  /** How long one attempt may take before it counts as failed (a hanging receiver). */
  timeoutMs?: number;
}

export function channelFor(config: ChannelConfig, alerts: AlertsConfig, options: ChannelOptions = {}): Channel {
  const secrets = options.secrets ?? PROCESS_SECRETS;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const render = (event: AlertEvent, complaint: boolean) => {
    const connection = alerts.connections.find((c) => c.name === event.incident.connection) ?? (alerts.connections.length === 1 ? alerts.connections[0] : undefined);
    return renderMessage(event, connection, complaint);
  };
  switch (config.type) {
    case 'command':
      return new CommandChannel(config, timeoutMs, render);
    case 'webhook':
    case 'push':
      return new HttpChannel(config, secrets, timeoutMs, render);
    case 'email':
      return new EmailChannel(config, secrets, timeoutMs, render);
  }
}

