// Takes socket snapshots on a worker thread. With 20,000 sockets, parsing the tables and
// walking the fds costs a few hundred milliseconds; on the main thread that would hold up
// the accounting of every packet meanwhile. The main thread only receives the result.

import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { ProcFs } from './proc/proc-fs.js';
import { ProcessCache, takeSocketSnapshot } from './socket-snapshot.js';
import type { SocketSnapshot } from './types.js';

interface Request {
  id: number;
  root: string;
}
type Reply = { id: number; snapshot: SocketSnapshot } | { id: number; error: string };

if (!isMainThread && parentPort) {
  const port = parentPort;
  const known = new ProcessCache();
  port.on('message', (request: Request) => {
    takeSocketSnapshot(new ProcFs(request.root), undefined, undefined, known).then(
      (snapshot) => port.postMessage({ id: request.id, snapshot } satisfies Reply),
      (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies Reply),
    );
  });
}

export class SnapshotWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (s: SocketSnapshot) => void; reject: (e: Error) => void }>();

  take(root: string): Promise<SocketSnapshot> {
    const worker = this.start();
    const id = this.nextId++;
    worker.ref(); // a read under way keeps the process alive until it answers
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, root } satisfies Request);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL(import.meta.url));
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if ('error' in reply) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.snapshot);
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new Error('the /proc reader thread stopped'));
    });
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
