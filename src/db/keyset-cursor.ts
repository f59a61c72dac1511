import { AppError } from '../errors.ts';

/**
 * Opaque cursors for keyset pagination on (created_at, id). The timestamp is stored at millisecond precision
 * (timestamptz(3)), so the JavaScript Date round-trips exactly and no row is skipped or repeated at a page edge.
 */
export interface KeysetPosition {
  createdAt: Date;
  id: string;
}

export function encodeCursor(pos: KeysetPosition): string {
  return Buffer.from(JSON.stringify([pos.createdAt.toISOString(), pos.id])).toString('base64url');
}

export function decodeCursor(cursor: string, field: (string | number)[] = ['cursor']): KeysetPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [at, id] = parsed as unknown[];
      const createdAt = new Date(String(at));
      if (!Number.isNaN(createdAt.getTime()) && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)) {
        return { createdAt, id };
      }
    }
  } catch {
    // fall through
  }
  throw AppError.validation(field, 'is not a cursor this service issued (pass nextCursor back unchanged)');
}
