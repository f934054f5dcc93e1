// How long each process of the live reports has been quiet: the producer marks every report
// it hands the screen with `idleSeconds`, so the screen stays a view of one report and can
// still let exited processes leave rate mode a few quiet intervals after their last byte.

import type { UsageReport } from '../usage-report.js';
import { processRowKey } from './view-rows.js';

export class ProcessIdleClock {
  /** Per process: its byte total at the last mark, and since when it has stood still. */
  private last = new Map<string, { bytes: number; since: number }>();

  /** Sets each process's idleSeconds at `nowSeconds` (any clock that only goes forward). */
  mark(report: UsageReport, nowSeconds: number): void {
    const next = new Map<string, { bytes: number; since: number }>();
    for (const p of report.processes) {
      const key = processRowKey(p);
      const bytes = p.sentBytes + p.receivedBytes;
      const before = this.last.get(key);
      // First seen, or moved bytes since the last mark: active now.
      const since = before && before.bytes === bytes ? before.since : nowSeconds;
      next.set(key, { bytes, since });
      p.idleSeconds = Math.max(0, nowSeconds - since);
    }
    // Only processes still in the report are kept: the map never outgrows it.
    this.last = next;
  }
}
