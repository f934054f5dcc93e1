// The hour of day (0-23) of an instant on the wall clock of a time zone, for baselines per
// hour: Intl knows the zone's rules, so the days the clocks change are right (a 23-hour day
// has no 02:00 in Europe/Berlin; a 25-hour day has two).

const formats = new Map<string, Intl.DateTimeFormat>();

export function localHour(atMs: number, timeZone?: string): number {
  const key = timeZone ?? '';
  let format = formats.get(key);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', { hour: 'numeric', hourCycle: 'h23', ...(timeZone === undefined ? {} : { timeZone }) });
    formats.set(key, format);
  }
  return Number(format.format(new Date(atMs)));
}

/** Minutes since local midnight, for daily maintenance windows. */
export function localMinuteOfDay(atMs: number, timeZone?: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { hour: 'numeric', minute: 'numeric', hourCycle: 'h23', ...(timeZone === undefined ? {} : { timeZone }) }).formatToParts(new Date(atMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

/** Throws RangeError for a zone Intl does not know. */
export function checkTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-GB', { timeZone });
}
