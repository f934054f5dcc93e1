// What every config section's checker needs to say what is wrong with a value: whether it
// is a JSON object, and the value itself, cut short, for the one-line error.

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value as JSON, at most 40 characters: what an error line quotes. */
export function showValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
