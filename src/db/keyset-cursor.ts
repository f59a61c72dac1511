import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { AppError } from '../errors.ts';
import { inRange } from '../validation.ts';

/**
 * Keyset pagination on (a timestamp, id), with opaque cursors, for every list ordered that way (connections,
 * transactions, webhook endpoints and deliveries share the format). The timestamp is stored at millisecond precision
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

/**
 * The order a list walks: its timestamp and id columns (SQL, with the query's alias) and the direction. Ascending
 * lists continue after the cursor's row, descending ones before it.
 */
export interface KeysetOrder {
  at: string;
  id: string;
  direction: 'ASC' | 'DESC';
}

/** The page a client asked for: `limit` rows, from the start or from a `nextCursor` this service issued. */
export interface KeysetRequest {
  cursor?: string | undefined;
  limit: number;
}

/** The WHERE condition that continues from `cursor`, with its parameters (named so they clash with no filter's). */
export function afterCursor(order: KeysetOrder, cursor: string): { where: string; params: { keysetAt: Date; keysetId: string } } {
  const position = decodeCursor(cursor);
  const comparison = order.direction === 'ASC' ? '>' : '<';
  return {
    where: `(${order.at}, ${order.id}) ${comparison} (:keysetAt, :keysetId)`,
    params: { keysetAt: position.at, keysetId: position.id },
  };
}

/**
 * Narrows a query, with its filters already applied, to one keyset page: past the cursor if there is one, in
 * (at, id) order, and `limit + 1` rows so that keysetPage can tell whether there is more.
 */
export function keysetQuery<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  order: KeysetOrder,
  page: KeysetRequest,
): SelectQueryBuilder<T> {
  if (page.cursor) {
    const after = afterCursor(order, page.cursor);
    qb.andWhere(after.where, after.params);
  }
  return qb
    .orderBy(order.at, order.direction)
    .addOrderBy(order.id, order.direction)
    .limit(page.limit + 1);
}

/** One page of a filtered query: keysetQuery, run, then keysetPage with the row's position. */
export async function listKeysetPage<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  order: KeysetOrder,
  page: KeysetRequest,
  position: (row: T) => KeysetPosition,
): Promise<{ items: T[]; nextCursor: string | null }> {
  return keysetPage(await keysetQuery(qb, order, page).getMany(), page.limit, position);
}
