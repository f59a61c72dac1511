import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, insertConnections, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

let service: TestService;
let app: TestApp;

beforeAll(async () => {
  // One user with thousands of connections: a scale test, far past the default per-user quota.
  service = await startTestService({ quotas: { connectionsPerUser: 100_000 } });
  app = await createTestApp(service);
});
afterAll(() => service.close());

describe('keyset pagination', () => {
  it('walks 1,200 connections while others are being inserted: no duplicates, no gaps', async () => {
    const existing = await insertConnections(service, app.id, 1200, { userId: 'pager' });
    const seen: string[] = [];
    const insertedMeanwhile: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await app.client.connections.list.query({ userId: 'pager', limit: 97, cursor });
      seen.push(...page.items.map((c) => c.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
      // Between pages, new connections arrive for the same user, some through the API, some in bulk.
      if (!cursor) break;
      if (pages % 2) {
        insertedMeanwhile.push((await app.client.connections.create.mutate(connectionInput({ userId: 'pager' }))).connection.id);
      } else {
        insertedMeanwhile.push(...(await insertConnections(service, app.id, 5, { userId: 'pager' })));
      }
    } while (cursor && pages < 100);

    expect(new Set(seen).size).toBe(seen.length); // no duplicates
    const seenSet = new Set(seen);
    expect(existing.filter((id) => !seenSet.has(id))).toEqual([]); // no gaps
    // Rows created during the walk sort after the cursor, so they are picked up too.
    expect(insertedMeanwhile.filter((id) => !seenSet.has(id))).toEqual([]);
    expect(pages).toBeGreaterThan(12);
  });

  it('respects limit (default 50, at most 500) and ends with a null cursor', async () => {
    await insertConnections(service, app.id, 120, { userId: 'limits' });
    const first = await app.client.connections.list.query({ userId: 'limits' });
    expect(first.items).toHaveLength(50);
    const all = await app.client.connections.list.query({ userId: 'limits', limit: 500 });
    expect(all.items).toHaveLength(120);
    expect(all.nextCursor).toBeNull();
    const tooMany = await rejection(app.client.connections.list.query({ limit: 501 }));
    expect(tooMany.data?.issues?.[0]?.path).toEqual(['limit']);
  });

  it('rejects a cursor it did not issue, naming the field', async () => {
    const e = await rejection(app.client.connections.list.query({ cursor: 'bm90LWEtY3Vyc29y' }));
    expect(e.data?.code).toBe('BAD_REQUEST');
    expect(e.data?.issues?.[0]?.path).toEqual(['cursor']);
  });

  it('ids filter accepts at most 1000 ids', async () => {
    const ids = Array.from({ length: 1001 }, () => crypto.randomUUID());
    // 1,000 ids do not fit in a GET URL: send the query as POST, as a client with large filters would.
    const client = service.client(app.apiKey, { methodOverride: 'POST' });
    const e = await rejection(client.connections.list.query({ filter: { ids } }));
    expect(e.data?.issues?.[0]?.path).toEqual(['filter', 'ids']);
    const ok = await client.connections.list.query({ filter: { ids: ids.slice(0, 1000) } });
    expect(ok.items).toEqual([]);
  });
});
