import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// Quotas, through real HTTP: past one, a create is FORBIDDEN with details { quota, limit } and writes nothing, even
// when many creates race for the last place.

let service: TestService;
let app: TestApp;

beforeAll(async () => {
  service = await startTestService({ quotas: { endpointsPerApp: 3, notificationRulesPerApp: 2, connectionsPerUser: 2 } });
  app = await createTestApp(service);
});
afterAll(() => service.close());

const count = async (table: string, appId = app.id) =>
  (await service.database.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE app_id = $1`, [appId]))[0].n as number;

describe('quotas', () => {
  it('webhook endpoints per app: ten racing for three places get three', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => app.client.webhooks.endpoints.create.mutate({ url: `https://example.com/hook-${i}` })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = await rejection(app.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/one-more' }));
    expect(refused.data?.code).toBe('FORBIDDEN');
    expect(refused.data?.httpStatus).toBe(403);
    expect(refused.data?.details).toEqual({ quota: 'endpointsPerApp', limit: 3 });
    expect(refused.message).toContain('MAX_ENDPOINTS_PER_APP=3');
    expect(await count('webhook_endpoints')).toBe(3);
    // Another app has its own quota.
    const other = await createTestApp(service);
    await expect(other.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/other' })).resolves.toBeDefined();
  });

  it('notification rules per app', async () => {
    const { items } = await app.client.webhooks.endpoints.list.query();
    const endpointId = items[0]!.id;
    for (let i = 0; i < 2; i++) await app.client.notificationRules.create.mutate({ triggerEvent: 'CONNECTION_STATUS_CHANGED', endpointId });
    const refused = await rejection(app.client.notificationRules.create.mutate({ triggerEvent: 'BANK_LOGIN_ERROR', endpointId }));
    expect([refused.data?.code, refused.data?.details]).toEqual(['FORBIDDEN', { quota: 'notificationRulesPerApp', limit: 2 }]);
    expect(await count('notification_rules')).toBe(2);
  });

  it('connections per user: a third is refused with nothing written (no connection, no job, no event)', async () => {
    const userId = 'quota-user';
    for (let i = 0; i < 2; i++) await app.client.connections.create.mutate(connectionInput({ userId }));
    const [connections, jobs, events] = [await count('connections'), await count('jobs'), await count('events')];
    const refused = await rejection(app.client.connections.create.mutate(connectionInput({ userId })));
    expect([refused.data?.code, refused.data?.details]).toEqual(['FORBIDDEN', { quota: 'connectionsPerUser', limit: 2 }]);
    expect([await count('connections'), await count('jobs'), await count('events')]).toEqual([connections, jobs, events]);
    // Another user of the same app is not affected.
    await expect(app.client.connections.create.mutate(connectionInput({ userId: 'another-user' }))).resolves.toBeDefined();
  });
});
