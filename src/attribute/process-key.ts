// A process's identity across PID reuse: the same PID with another start time is another
// process. One definition for the meter, the reports and merged socket snapshots.

import type { ProcessInfo } from './types.js';

export function processKey(p: Pick<ProcessInfo, 'pid' | 'startTime'>): string {
  return p.startTime === undefined ? `${p.pid}` : `${p.pid}@${p.startTime}`;
}
