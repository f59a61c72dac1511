/**
 * Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3): the wait in milliseconds, or null when absent or
 * unreadable. Callers bound it and choose their own default (the webhook sender and the plug-in provider client).
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
