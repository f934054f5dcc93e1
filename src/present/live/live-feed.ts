// The hand-off between the meter and the live screen: the latest frame (a usage report
// plus the timing the header shows) and a subscription for "a new frame is ready".

import type { UsageReport } from '../usage-report.js';

export interface LiveFrame {
  report: UsageReport;
  /** Seconds since the live session started. */
  elapsedSeconds: number;
  /** Seconds between frames: rates in `report` are taken over this interval. */
  intervalSeconds: number;
  /** The producer itself is paused (the screen also has its own pause key). */
  paused?: boolean;
}

/** Shaped for React's useSyncExternalStore: `current()` returns the same object until the next frame. */
export interface LiveFeed {
  current(): LiveFrame;
  subscribe(listener: () => void): () => void;
}

export class LiveFeedStore implements LiveFeed {
  private frame: LiveFrame;
  private readonly listeners = new Set<() => void>();

  constructor(initial: LiveFrame) {
    this.frame = initial;
  }

  current = (): LiveFrame => this.frame;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  publish(frame: LiveFrame): void {
    this.frame = frame;
    for (const listener of [...this.listeners]) listener();
  }
}
