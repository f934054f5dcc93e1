// A real Prometheus server (Debian's `prometheus`) for the metrics tests: on a free
// 127.0.0.1 port, with its own storage in a temporary directory, a generated config that
// scrapes the given targets every second, and an HTTP API client for instant queries.

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sleep, waitExit, type Proc, type ProcGroup } from './live-harness.js';

/** A TCP port on 127.0.0.1 nothing listens on (the kernel's choice, released at once). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface InstantSample {
  metric: Record<string, string>;
  /** [unix seconds, value as text] */
  value: [number, string];
}

export interface PrometheusServer {
  proc: Proc;
  url: string;
  /** An instant query through /api/v1/query; rejects with Prometheus's error text on an error. */
  query(expr: string, time?: number): Promise<InstantSample[]>;
  /** The raw API answer of /api/v1/query (status, data, error). */
  queryRaw(expr: string): Promise<{ status: string; data?: { resultType: string; result: unknown[] }; error?: string; errorType?: string }>;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port targets of the job "netmeter", scraped every second. */
  targets: string[];
  /** Labels put on every target (e.g. region). */
  labels?: Record<string, string>;
  /** Rule files to load. */
  ruleFiles?: string[];
}

export async function startPrometheus(group: ProcGroup, dir: string, options: PrometheusOptions): Promise<PrometheusServer> {
  const port = await freeLoopbackPort();
  const config = join(dir, 'prometheus.yml');
  const labels = Object.entries(options.labels ?? {}).map(([k, v]) => `          ${k}: ${JSON.stringify(v)}\n`).join('');
  writeFileSync(config, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    ...(options.ruleFiles?.length ? ['rule_files:', ...options.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
    'scrape_configs:',
    '  - job_name: netmeter',
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
    ...(labels ? ['        labels:', labels.trimEnd()] : []),
    '',
  ].join('\n'));
  const url = `http://127.0.0.1:${port}`;
  const proc = group.spawn('prometheus', 'prometheus', [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode() !== undefined) throw new Error(`prometheus exited (${proc.exitCode()}): ${proc.stderr.all}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s: ${proc.stderr.all}`);
    await sleep(100);
  }
  const queryRaw = async (expr: string, time?: number) => {
    const params = new URLSearchParams({ query: expr });
    if (time !== undefined) params.set('time', String(time));
    const response = await fetch(`${url}/api/v1/query`, { method: 'POST', body: params });
    return (await response.json()) as Awaited<ReturnType<PrometheusServer['queryRaw']>>;
  };
  return {
    proc,
    url,
    queryRaw,
    async query(expr, time) {
      const answer = await queryRaw(expr, time);
      if (answer.status !== 'success') throw new Error(`query ${expr}: ${answer.errorType}: ${answer.error}`);
      if (answer.data!.resultType !== 'vector') throw new Error(`query ${expr}: a ${answer.data!.resultType}, not a vector`);
      return answer.data!.result as InstantSample[];
    },
    async stop() {
      if (proc.exitCode() !== undefined) return;
      process.kill(proc.pid, 'SIGTERM');
      await waitExit(proc, 15_000);
    },
  };
}
