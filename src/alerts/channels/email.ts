// The email channel, over SMTP with nodemailer. Message-ID is derived from the event id, so
// a repeat after a crash is the same message to any mail system; a recovery refers to its
// opening (In-Reply-To), so both sit in one thread at the support desk. The SMTP password
// is read when sending and never appears in an error.

import nodemailer from 'nodemailer';
import type { ChannelConfig } from '../config.js';
import type { RenderedMessage } from '../message.js';
import { readSecret, type SecretSource } from '../secrets.js';
import type { AlertEvent } from '../types.js';
import type { Channel } from './channel.js';
import { DeliveryError, redact } from './delivery-error.js';

export class EmailChannel implements Channel {
  readonly name: string;

  constructor(
    private readonly config: Extract<ChannelConfig, { type: 'email' }>,
    private readonly secrets: SecretSource,
    private readonly timeoutMs: number,
    private readonly render: (event: AlertEvent, complaint: boolean) => RenderedMessage,
  ) {
    this.name = config.name;
  }

  async send(event: AlertEvent): Promise<void> {
    const smtp = this.config.smtp;
    const password = smtp.password === undefined ? undefined : readSecret(smtp.password, this.secrets);
    const transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      ...(smtp.user === undefined ? {} : { auth: { user: smtp.user, pass: password ?? '' } }),
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: this.timeoutMs,
    });
    const message = this.render(event, this.config.complaint && event.kind !== 'test');
    const domain = this.config.from.split('@')[1] ?? 'netmeter';
    try {
      await transport.sendMail({
        from: this.config.from,
        to: this.config.to,
        subject: message.subject,
        text: message.text,
        messageId: `<${event.id}@${domain}>`,
        ...(event.kind === 'recovery' || event.kind === 'reminder' ? { inReplyTo: `<${event.incident.id}-open@${domain}>`, references: [`<${event.incident.id}-open@${domain}>`] } : {}),
        headers: { 'X-Netmeter-Event': event.id },
      });
    } catch (error) {
      const e = error as Error & { code?: string; responseCode?: number; response?: string };
      // The server's answer starts with its code ("451 mailbox unavailable"); a local failure has none.
      const why = e.response ?? `${e.responseCode ?? ''} ${e.message}`.trim();
      throw new DeliveryError(redact(`SMTP ${smtp.host}:${smtp.port}: ${e.code ?? 'error'} ${why}`, [password]));
    } finally {
      transport.close();
    }
  }
}
