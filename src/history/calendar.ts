// The history's calendar: where the minute, hour, day, month and billing period of an
// instant begin, in the local time zone (as vnstat counts days), and the strict parsing of
// the dates a user types. Times are whole seconds since the epoch.

const MINUTE = 60;

export function minuteStart(t: number): number {
  return Math.floor(t / MINUTE) * MINUTE;
}

/**
 * The local hour: not a multiple of 3600 in zones with a half-hour offset (India,
 * Newfoundland), so the local minutes are taken off t rather than t rounded; unlike setting
 * the local time to HH:00, this stays right in the hour the clocks repeat in autumn.
 */
export function hourStart(t: number): number {
  const whole = Math.floor(t);
  const d = new Date(whole * 1000);
  return whole - d.getMinutes() * 60 - d.getSeconds();
}

/** Local midnight: days are 23 or 25 hours long where the clocks change. */
export function dayStart(t: number): number {
  const d = new Date(t * 1000);
  d.setHours(0, 0, 0, 0);
  return d.getTime() / 1000;
}

export function monthStart(t: number): number {
  const d = new Date(t * 1000);
  d.setDate(1);
  d.setHours(0, 0, 0, 0);
  return d.getTime() / 1000;
}

/** Local midnight `days` calendar days after the day of t. */
export function addDays(t: number, days: number): number {
  const d = new Date(dayStart(t) * 1000);
  d.setDate(d.getDate() + days);
  return d.getTime() / 1000;
}

export function addMonths(t: number, months: number): number {
  const d = new Date(monthStart(t) * 1000);
  d.setMonth(d.getMonth() + months);
  return d.getTime() / 1000;
}

export function addHours(t: number, hours: number): number {
  return t + hours * 3600;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function formatDay(t: number): string {
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function formatMonth(t: number): string {
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
}

export function formatHour(t: number): string {
  const d = new Date(t * 1000);
  return `${formatDay(t)} ${pad(d.getHours())}:00`;
}

/** Local date and time to the second, for titles and JSON ranges. */
export function formatLocal(t: number): string {
  const d = new Date(t * 1000);
  return `${formatDay(t)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The start of local day YYYY-MM-DD, or undefined when the text is no such date (2026-13-45, 2026-02-30). */
export function parseDay(text: string): number | undefined {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  return localTime(Number(m[1]), Number(m[2]), Number(m[3]), 0, 0, 0);
}

/** The start of local month YYYY-MM, or undefined. */
export function parseMonth(text: string): number | undefined {
  const m = /^(\d{4})-(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  return localTime(Number(m[1]), Number(m[2]), 1, 0, 0, 0);
}

/** "YYYY-MM-DD HH:MM[:SS]" or with a T, local time; undefined when not a real instant. */
export function parseDateTime(text: string): number | undefined {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  if (!m) return undefined;
  return localTime(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
}

/**
 * Date's constructor rolls 2026-13-45 over into 2027-02-14; a date is real only when the
 * fields come back as given.
 */
function localTime(year: number, month: number, day: number, hours: number, minutes: number, seconds: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const d = new Date(year, month - 1, day, hours, minutes, seconds);
  if (d.getFullYear() !== year || d.getMonth() !== month - 1 || d.getDate() !== day) return undefined;
  return d.getTime() / 1000;
}

/**
 * The billing period that contains t: it starts at local midnight on `billingDay` of a month
 * (the month's last day when it is shorter, so 31 means "the last day") and ends where the
 * next one starts.
 */
export function billingPeriod(t: number, billingDay: number): { start: number; end: number } {
  const startIn = (monthT: number) => {
    const d = new Date(monthStart(monthT) * 1000);
    const last = new Date(d.getFullYear(), d.getMonth() + 1, 0).getDate();
    d.setDate(Math.min(billingDay, last));
    return d.getTime() / 1000;
  };
  const thisMonth = startIn(t);
  const start = thisMonth <= t ? thisMonth : startIn(addMonths(t, -1));
  const end = startIn(addMonths(start, 1));
  return { start, end };
}
