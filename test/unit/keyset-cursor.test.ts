import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { afterCursor, encodeCursor, keysetPage, keysetQuery, type KeysetOrder } from '../../src/db/keyset-cursor.ts';
import { AppError } from '../../src/errors.ts';

const position = { at: new Date('2026-03-04T05:06:07.089Z'), id: '6f1c1a3e-9a57-4b8e-8a55-0f0e4a6e1c2b' };
const ascending: KeysetOrder = { at: 'e.created_at', id: 'e.id', direction: 'ASC' };
const descending: KeysetOrder = { at: 't.booked_at', id: 't.id', direction: 'DESC' };

// An unconnected DataSource builds SQL without a database: the statement a list runs, as PostgreSQL receives it.
const postgres = new DataSource({ type: 'postgres' });
const filtered = () =>
  postgres.createQueryBuilder().select('e.id', 'id').from('webhook_endpoints', 'e').where('e.app_id = :appId', { appId: 'app' });

describe('keyset pagination', () => {
  it('continues after the cursor when ascending and before it when descending', () => {
    const cursor = encodeCursor(position);
    expect(afterCursor(ascending, cursor)).toEqual({
      where: '(e.created_at, e.id) > (:keysetAt, :keysetId)',
      params: { keysetAt: position.at, keysetId: position.id },
    });
    expect(afterCursor(descending, cursor).where).toBe('(t.booked_at, t.id) < (:keysetAt, :keysetId)');
  });

  it('decodes the cursor strings lists issued before the helper existed', () => {
    // encodeCursor's format written out: base64url of the JSON pair [ISO time, id].
    const issued = Buffer.from(JSON.stringify(['2026-03-04T05:06:07.089Z', position.id])).toString('base64url');
    expect(issued).toBe(encodeCursor(position));
    expect(afterCursor(ascending, issued).params).toEqual({ keysetAt: position.at, keysetId: position.id });
  });

  it('refuses a cursor it did not issue as VALIDATION on the cursor field', () => {
    try {
      afterCursor(ascending, 'bm90LWEtY3Vyc29y');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).details.issues?.[0]?.path).toEqual(['cursor']);
    }
  });

  it('asks for one row more than the page, in (at, id) order, after the filters', () => {
    const [firstPage] = keysetQuery(filtered(), ascending, { limit: 2 }).getQueryAndParameters();
    expect(firstPage).toBe(
      'SELECT e.id AS "id" FROM "webhook_endpoints" "e" WHERE e.app_id = $1 ORDER BY e.created_at ASC, e.id ASC LIMIT 3',
    );

    const [later, params] = keysetQuery(filtered(), descending, { cursor: encodeCursor(position), limit: 2 }).getQueryAndParameters();
    expect(later).toBe(
      'SELECT e.id AS "id" FROM "webhook_endpoints" "e" WHERE e.app_id = $1 AND (t.booked_at, t.id) < ($2, $3) ORDER BY t.booked_at DESC, t.id DESC LIMIT 3',
    );
    expect(params).toEqual(['app', position.at, position.id]);
  });

  it('gives a cursor at the last row only when the extra row shows there is more', () => {
    const rows = [1, 2, 3].map((n) => ({ at: new Date(n * 1000), id: `0000000${n}-0000-4000-8000-000000000000` }));
    expect(keysetPage(rows, 2, (r) => r)).toEqual({ items: rows.slice(0, 2), nextCursor: encodeCursor(rows[1]!) });
    expect(keysetPage(rows, 3, (r) => r)).toEqual({ items: rows, nextCursor: null });
  });
});
