// When messages are held back: silences (from the config or `netmeter alerts silence`,
// optionally for one detector) and maintenance windows (once, or daily in local time).
// During maintenance the results themselves are not counted either: the provider said so.

import type { MaintenanceWindow, SilenceConfig } from './config.js';
import { localMinuteOfDay } from './local-hour.js';

export function silenceAt(silences: SilenceConfig[], at: number, detector: string): SilenceConfig | undefined {
  return silences.find((s) => s.from <= at && at < s.until && (s.detector === undefined || s.detector === detector));
}

export function inMaintenance(windows: MaintenanceWindow[], at: number, timeZone?: string): boolean {
  return windows.some((w) => {
    if (w.kind === 'once') return w.from <= at && at < w.until;
    const minute = localMinuteOfDay(at, timeZone);
    // A window like 23:00-01:00 wraps past midnight.
    return w.fromMinute < w.untilMinute ? w.fromMinute <= minute && minute < w.untilMinute : minute >= w.fromMinute || minute < w.untilMinute;
  });
}
