// Real receivers for the delivery tests, on loopback: an HTTP endpoint that answers 500,
// hangs or says OK as the test chooses (for the webhook and the push channel), and an SMTP
// server (the smtp-server package) that accepts, refuses or checks the password.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  path: string;
}

export class HttpReceiver {
  mode: 'ok' | '500' | 'hang' = 'ok';
  /** Every request, whatever the answer. */
  readonly requests: Received[] = [];
  /** Only the ones answered 200. */
  readonly accepted: Received[] = [];
  private readonly hanging: ServerResponse[] = [];
  private server!: Server;
  onRequest: (r: Received) => void = () => {};
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const r = { headers: req.headers, body, path: req.url ?? '' };
        this.requests.push(r);
        this.onRequest(r);
        if (this.mode === 'hang') return void this.hanging.push(res);
        if (this.mode === '500') return void res.writeHead(500).end('internal error');
        this.accepted.push(r);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
}

export class SmtpReceiver {
  mode: 'ok' | 'refuse' = 'ok';
  readonly mails: Mail[] = [];
  readonly attempts: string[] = [];
  port = 0;
  private server!: SMTPServer;

  constructor(private readonly password: string) {}

  async start(port = 0): Promise<this> {
    this.server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === 'me' && auth.password === this.password) callback(null, { user: 'me' });
        else callback(new Error('bad credentials'));
      },
      onRcptTo: (address, _session, callback) => {
        this.attempts.push(address.address);
        if (this.mode === 'refuse') callback(Object.assign(new Error('mailbox unavailable, try later'), { responseCode: 451 }));
        else callback();
      },
      onData: (stream, session, callback) => {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString()));
        stream.on('end', () => {
          this.mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
