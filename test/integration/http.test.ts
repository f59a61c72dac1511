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
