/**
 * Text that came from outside (a webhook receiver's answer, a plug-in provider's message or attribute), made
 * storable: PostgreSQL refuses NUL in text and jsonb, so one `ok\0` from a receiver failed a whole batched write.
 * NUL characters are dropped, and the text is cut to `maxChars` without splitting a surrogate pair.
 */
export function storableText(text: string, maxChars: number): string {
  let out = text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
  if (out.length > maxChars) {
    out = out.slice(0, maxChars);
    const last = out.charCodeAt(out.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  }
  return out;
}

/** storableText for optional columns: null stays null, and so does text that is empty once made storable. */
export function storableOrNull(text: string | null | undefined, maxChars: number): string | null {
  if (text === null || text === undefined) return null;
  return storableText(text, maxChars) || null;
}
