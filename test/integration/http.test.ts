import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

let service: TestService;
let app: TestApp;
beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
});
afterAll(() => service.close());

describe('HTTP surface', () => {
  it('a single GET query answers as the same query in a batch does, errors included', async () => {
    const { connection } = await app.client.connections.create.mutate({
      userId: 'single-get',
      institutionId: 'AU00000',
      credentials: { loginId: 'x', password: 'y' },
    });
    const auth = { authorization: `Bearer ${app.apiKey}` };
    const one = (input: unknown) => encodeURIComponent(JSON.stringify({ json: input }));
    const batch = (input: unknown) => encodeURIComponent(JSON.stringify({ 0: { json: input } }));
    for (const [path, input] of [
      ['connections.get', { id: connection.id }],
      ['connections.list', { userId: 'single-get', limit: 5 }],
      ['connections.get', { id: 'not-a-uuid' }],
      ['connections.get', { id: '00000000-0000-4000-8000-000000000000' }],
      ['connections.create', { id: connection.id }],
    ] as const) {
      const fast = await fetch(`${service.url}/trpc/${path}?input=${one(input)}`, { headers: auth });
      const viaTrpc = await fetch(`${service.url}/trpc/${path}?batch=1&input=${batch(input)}`, { headers: auth });
      const [fastBody, trpcBody] = [await fast.json(), ((await viaTrpc.json()) as unknown[])[0]];
      const strip = (b: any) =>
        b?.error?.json?.data
          ? { ...b, error: { ...b.error, json: { ...b.error.json, data: { ...b.error.json.data, requestId: null } } } }
          : b;
      expect(strip(fastBody)).toEqual(strip(trpcBody));
      expect(fast.status).toBe(viaTrpc.status === 207 ? fast.status : viaTrpc.status);
    }
    // Without a key: UNAUTHORIZED, as before.
    expect((await fetch(`${service.url}/trpc/connections.get?input=${one({ id: connection.id })}`)).status).toBe(401);
  });

  it('/healthz answers while the process is up', async () => {
    const res = await fetch(`${service.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz checks the database and that migrations are applied', async () => {
    const res = await fetch(`${service.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('echoes a request id, or makes one', async () => {
    const given = await fetch(`${service.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await fetch(`${service.url}/healthz`);
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a real fault is INTERNAL_SERVER_ERROR with a request id, and leaks no detail', async () => {
    // Break the database under the service (as an outage would): the client must see no SQL or stack.
    const original = service.services.connections.list.bind(service.services.connections);
    service.services.connections.list = async () => {
      await service.database.db.query('SELECT * FROM table_that_does_not_exist');
      return original(app.id, { limit: 1 });
    };
    try {
      const res = await fetch(`${service.url}/trpc/connections.list`, { headers: { authorization: `Bearer ${app.apiKey}` } });
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(body).toContain('Internal error (request id');
      expect(body).not.toContain('table_that_does_not_exist');
      expect(body).not.toMatch(/at .*\.ts:\d+/);
    } finally {
      service.services.connections.list = original;
    }
  });

  it('unknown procedures are NOT_FOUND', async () => {
    const res = await fetch(`${service.url}/trpc/connections.nope`, { headers: { authorization: `Bearer ${app.apiKey}` } });
    expect(res.status).toBe(404);
  });
});
