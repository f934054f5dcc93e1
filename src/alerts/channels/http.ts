// The webhook and push channels over HTTP. Webhook: the event's JSON document POSTed with an
// Idempotency-Key header holding the stable event id, so a receiver can drop a repeat
// after a crash. Push (ntfy-style): the message text POSTed to a topic URL with a Title
// header. A token, when configured, goes in Authorization: Bearer and nowhere else.

import type { ChannelConfig } from '../config.js';
import { eventDocument, type RenderedMessage } from '../message.js';
import { readSecret, type SecretSource } from '../secrets.js';
import type { AlertEvent } from '../types.js';
import type { Channel } from './channel.js';
import { DeliveryError, redact } from './delivery-error.js';

export class HttpChannel implements Channel {
  readonly name: string;

  constructor(
    private readonly config: Extract<ChannelConfig, { type: 'webhook' | 'push' }>,
    private readonly secrets: SecretSource,
    private readonly timeoutMs: number,
    private readonly render: (event: AlertEvent, complaint: boolean) => RenderedMessage,
  ) {
    this.name = config.name;
  }

  async send(event: AlertEvent): Promise<void> {
    const token = this.config.token === undefined ? undefined : readSecret(this.config.token, this.secrets);
    const headers: Record<string, string> = { 'Idempotency-Key': event.id, 'User-Agent': 'netmeter' };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    let body: string;
    if (this.config.type === 'webhook') {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(eventDocument(event));
    } else {
      const message = this.render(event, false);
      headers['Content-Type'] = 'text/plain; charset=utf-8';
      // HTTP header values must be ISO-8859-1: keep the title to ASCII.
      headers.Title = message.subject.replace(/[^\x20-\x7e]/g, '?');
      headers.Priority = event.kind === 'open' ? 'high' : 'default';
      headers.Tags = event.kind === 'recovery' ? 'white_check_mark' : event.kind === 'open' ? 'warning' : 'information_source';
      body = message.text;
    }
    let response: Response;
    try {
      response = await fetch(this.config.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new DeliveryError(redact(`POST ${this.config.url}: ${why}`, [token]));
    }
    const answer = await response.text().catch(() => '');
    if (!response.ok) throw new DeliveryError(redact(`POST ${this.config.url}: HTTP ${response.status}${answer ? ` ${answer.slice(0, 100)}` : ''}`, [token]));
  }
}
