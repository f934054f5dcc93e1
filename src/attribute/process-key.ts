// A process's identity across PID reuse: the same PID with another start time is another
// process; a subscriber (`--by host`) is its host. One definition for the meter, the reports and merged socket snapshots.

import type { ProcessInfo } from './types.js';

export function processKey(p: Pick<ProcessInfo, 'pid' | 'startTime' | 'host'>): string {
  if (p.host !== undefined) return `host ${p.host}`;
  return p.startTime === undefined ? `${p.pid}` : `${p.pid}@${p.startTime}`;
}
