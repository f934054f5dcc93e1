// A failed delivery attempt, said in one line that may go to the log and the database, so
// no secret may be in it: `redact` takes known secret values out first.

export class DeliveryError extends Error {
  override name = 'DeliveryError';
}

export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text.replace(/\s+/g, ' ').trim();
  for (const s of secrets) if (s !== undefined && s.length >= 3) out = out.split(s).join('***');
  return out.length > 300 ? `${out.slice(0, 299)}…` : out;
}
