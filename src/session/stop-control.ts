// When a capturing command stops: Ctrl-C or SIGTERM (systemctl stop, timeout), the end of
// --duration, the capture ending by itself (a named device failed), or the command's own
// word (q on the live screen). Whichever comes first.

import type { CaptureSession } from './capture-session.js';

export interface StopControl {
  /** Resolves at the first reason to stop; the signal handlers are gone by then. */
  readonly stopped: Promise<void>;
  stop(): void;
}

export function stopControl(session: CaptureSession, durationSeconds?: number): StopControl {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  void session.ended.then(stop);
  const timer = durationSeconds === undefined ? undefined : setTimeout(stop, durationSeconds * 1000);
  const done = stopped.then(() => {
    clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  });
  return { stopped: done, stop };
}
