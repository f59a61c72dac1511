import { AppError } from '../errors.ts';
import { inRange } from '../validation.ts';

/**
 * Opaque cursors for keyset pagination on (a timestamp, id). The timestamp is stored at millisecond precision
 * (timestamptz(3)), so the JavaScript Date round-trips exactly and no row is skipped or repeated at a page edge.
 */
export interface KeysetPosition {
  at: Date;
  id: string;
}

export function encodeCursor(pos: KeysetPosition): string {
  return Buffer.from(JSON.stringify([pos.at.toISOString(), pos.id])).toString('base64url');
}

export function decodeCursor(cursor: string, field: (string | number)[] = ['cursor']): KeysetPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [at, id] = parsed as unknown[];
      const date = new Date(String(at));
      // A forged cursor's date must still be one PostgreSQL can compare with (not year -100000).
      if (
        typeof at === 'string' &&
        inRange(date) &&
        typeof id === 'string' &&
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
      ) {
        return { at: date, id };
      }
    }
  } catch {
    // fall through
  }
  throw AppError.validation(field, 'is not a cursor this service issued (pass nextCursor back unchanged)');
}

/**
 * A page from a query that asked for `limit + 1` rows in keyset order: the first `limit`, and a cursor at the last
 * of them when the extra row shows there is more.
 */
export function keysetPage<T>(rows: T[], limit: number, position: (row: T) => KeysetPosition): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null };
}
