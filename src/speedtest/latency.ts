// Round trips over HTTP: N small requests one after another on one kept-alive connection
// (the first, which opens the connection, is not counted), and the same while a transfer
// runs, which is the latency a user feels under load.

import type { ServerEndpoints } from './endpoints.js';
import { SpeedtestError } from './errors.js';
import type { Connection, TextAnswer, Transport } from './transport.js';

export interface IdleLatency {
  rtts: number[];
  /** The answer that opened the connection: its addresses say which path the test takes. */
  first: TextAnswer;
}

export async function measureIdleLatency(transport: Transport, endpoints: ServerEndpoints, count: number): Promise<IdleLatency> {
  const connection = transport.connect();
  try {
    const first = await ping(transport, connection, endpoints);
    const rtts: number[] = [];
    for (let i = 0; i < count; i++) rtts.push((await ping(transport, connection, endpoints)).elapsedMs);
    return { rtts, first };
  } finally {
    connection.close();
  }
}

export async function ping(transport: Transport, connection: Connection, endpoints: ServerEndpoints): Promise<TextAnswer> {
  const url = endpoints.pingUrl();
  const answer = await transport.ping(connection, url);
  if (answer.status < 200 || answer.status >= 300) {
    throw new SpeedtestError(`${url.host} answered HTTP ${answer.status} to GET ${url.pathname}: is the URL a ${endpoints.protocol} server's base?`);
  }
  return answer;
}

/**
 * Pings every `intervalMs` until `signal` fires; each round trip with the time it was sent
 * (ms since `origin`). A failed ping ends the loop quietly: the transfer reports the failure.
 */
export async function pingWhile(
  transport: Transport,
  endpoints: ServerEndpoints,
  intervalMs: number,
  signal: AbortSignal,
  now: () => number,
  origin: number,
): Promise<{ t: number; rtt: number }[]> {
  const connection = transport.connect();
  const out: { t: number; rtt: number }[] = [];
  try {
    await ping(transport, connection, endpoints); // opens the connection
    while (!signal.aborted) {
      const sent = now();
      const answer = await ping(transport, connection, endpoints);
      out.push({ t: sent - origin, rtt: answer.elapsedMs });
      const wait = intervalMs - (now() - sent);
      if (wait > 0 && !signal.aborted) await delay(wait, signal);
    }
  } catch {
    // stopped or failed: what was measured stays
  } finally {
    connection.close();
  }
  return out;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
