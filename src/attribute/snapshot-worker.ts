// Takes socket snapshots on a worker thread. With 20,000 sockets, parsing the tables and
// walking the fds costs a few hundred milliseconds; on the main thread that would hold up
// the accounting of every packet meanwhile. The main thread only receives the result, and
// nothing when the result is the same as the last one (most re-reads of an idle host).
// A worker is a second JavaScript engine, ~12 MB resident: it ends when no read has come
// for a while (with the kernel's socket hooks reads are rare) and starts again for the next
// one, which then reads everything afresh.

import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { ProcFs } from './proc/proc-fs.js';
import { SnapshotReader, type TcpRead } from './socket-snapshot.js';
import type { SocketSnapshot } from './types.js';

interface Request {
  id: number;
  root: string;
  /** Pids that ended since the last request, or null when the caller does not hear of ends. */
  ended: number[] | null;
  tcp: TcpRead;
}
/** snapshot null: the same as the last one sent. */
type Reply = { id: number; snapshot: SocketSnapshot | null } | { id: number; error: string };

if (!isMainThread && parentPort) {
  const port = parentPort;
  const readers = new Map<string, SnapshotReader>();
  port.on('message', (request: Request) => {
    let reader = readers.get(request.root);
    if (!reader) readers.set(request.root, (reader = new SnapshotReader(new ProcFs(request.root))));
    reader.read(request.ended ?? undefined, request.tcp).then(
      (snapshot) => port.postMessage({ id: request.id, snapshot: snapshot ?? null } satisfies Reply),
      (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies Reply),
    );
  });
}

/** How long the worker waits for another read before it ends. */
const IDLE_WORKER_MS = 10_000;

export class SnapshotWorker {
  private worker: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (s: SocketSnapshot | undefined) => void; reject: (e: Error) => void }>();

  /**
   * A snapshot of the /proc at root, or undefined when it equals the last one this worker
   * returned for root. ended: pids that ended since the last call; undefined when not known
   * (then every read walks all processes' fds). tcp: see SnapshotReader.read.
   */
  take(root: string, ended?: readonly number[], tcp: TcpRead = 'tables'): Promise<SocketSnapshot | undefined> {
    clearTimeout(this.idleTimer);
    const worker = this.start();
    const id = this.nextId++;
    worker.ref(); // a read under way keeps the process alive until it answers
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, root, ended: ended ? [...ended] : null, tcp } satisfies Request);
    });
  }

  /** Whether the worker thread is running (it ends after IDLE_WORKER_MS without a read). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
    this.failAll(new Error('the /proc reader thread stopped'));
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL(import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 6 } });
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) {
        worker.unref();
        this.idleTimer = setTimeout(() => {
          // Nothing is waiting (take() clears this timer): no reader to tell.
          if (this.worker === worker) this.worker = undefined;
          void worker.terminate();
        }, IDLE_WORKER_MS);
        this.idleTimer.unref();
      }
      if ('error' in reply) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.snapshot ?? undefined);
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => {
      // A thread close() ended is no longer this.worker: a new one may already be reading.
      if (this.worker !== worker) return;
      this.worker = undefined;
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
