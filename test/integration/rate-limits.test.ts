import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// Per-app rate limits, through real HTTP. The buckets refill one token in about 17 minutes here, so no call in the
// test gets a token back: what is allowed depends only on the bursts, not on how fast the machine is.

let service: TestService;
let app: TestApp;

beforeAll(async () => {
  service = await startTestService({
    rateLimits: { requestsPerSecond: 0.001, requestBurst: 6, mutationsPerSecond: 0.001, mutationBurst: 2 },
  });
  app = await createTestApp(service);
});
afterAll(() => service.close());

const get = (apiKey: string) => fetch(`${service.url}/trpc/institutions.list`, { headers: { authorization: `Bearer ${apiKey}` } });

describe('rate limits', () => {
  it('mutations have their own lower limit; past it, 429 with Retry-After and the RateLimit fields', async () => {
    await app.client.connections.create.mutate(connectionInput());
    await app.client.connections.create.mutate(connectionInput());
    const error = await rejection(app.client.connections.create.mutate(connectionInput()));
    expect(error.data?.code).toBe('TOO_MANY_REQUESTS');
    expect(error.data?.httpStatus).toBe(429);
    expect(error.message).toMatch(/mutations/);
    // Queries still go through (the request bucket has room left).
    expect((await get(app.apiKey)).status).toBe(200);
  });

  it('past the request limit every call is 429 for that app, and another app is not affected', async () => {
    let res = await get(app.apiKey);
    while (res.status === 200) res = await get(app.apiKey);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('ratelimit-policy')).toBe('"requests";q=6;w=6000, "mutations";q=2;w=2000');
    expect(res.headers.get('ratelimit')).toMatch(/^"requests";r=0;t=\d+$/);
    const body = (await res.json()) as { error: { json: { data: { code: string } } } };
    expect(body.error.json.data.code).toBe('TOO_MANY_REQUESTS');

    const other = await createTestApp(service);
    const theirs = await get(other.apiKey);
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get('ratelimit')).toBe('"requests";r=5;t=1000');
  });
});
