import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/factories.ts';
import { sample } from '../helpers/prometheus.ts';
import { waitUntil } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// One access log line per HTTP request (src/api/access-log.ts) and the request metrics, through the real express
// app: the fields a person reading the log needs, and never a hosted page's token or a query string.

interface Line {
  level: number;
  msg: string;
  method: string;
  procedure?: string;
  route?: string;
  status: number;
  durationMs: number;
  appId?: string;
  requestId: string;
}

const logLines: string[] = [];
let service: TestService;
let app: TestApp;
const REDIRECT = 'https://app.example.com/connected';

beforeAll(async () => {
  service = await startTestService({ logLines });
  app = await createTestApp(service);
  await app.client.apps.addRedirectUri.mutate({ uri: REDIRECT });
});
afterAll(() => service.close());

/** The access log line of the request that answered with this x-request-id (waits for it: it is written on finish). */
async function lineOf(res: Response): Promise<Line> {
  const requestId = res.headers.get('x-request-id')!;
  return waitUntil(
    async () => logLines.map((l) => JSON.parse(l) as Line).find((l) => l.msg === 'request' && l.requestId === requestId),
    5_000,
    `the access log line of ${requestId}`,
  );
}

const input = (value: unknown) => encodeURIComponent(JSON.stringify({ json: value }));

async function scrape(): Promise<string> {
  const res = await fetch(`${service.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('access log', () => {
  it('an authenticated call: method, procedure, status, duration, app id and request id', async () => {
    const res = await fetch(`${service.url}/trpc/institutions.list?input=${input({})}`, {
      headers: { authorization: `Bearer ${app.apiKey}`, 'x-request-id': 'access-log-1' },
    });
    expect(res.status).toBe(200);
    const line = await lineOf(res);
    expect(line).toMatchObject({
      level: 30,
      method: 'GET',
      procedure: 'institutions.list',
      status: 200,
      appId: app.id,
      requestId: 'access-log-1',
    });
    expect(line.durationMs).toBeGreaterThan(0);
    expect(line).not.toHaveProperty('route');
    // No query string, no key.
    expect(JSON.stringify(line)).not.toContain('input');
    expect(JSON.stringify(line)).not.toContain(app.apiKey);
  });

  it('a call without a valid key: 401, the procedure, no app', async () => {
    const res = await fetch(`${service.url}/trpc/connections.list?input=${input({ limit: 1 })}`, {
      headers: { authorization: 'Bearer csk_wrong' },
    });
    expect(res.status).toBe(401);
    const line = await lineOf(res);
    expect(line).toMatchObject({ method: 'GET', procedure: 'connections.list', status: 401 });
    expect(line.appId).toBeUndefined();
  });

  it('a batch: the procedures comma-joined, in order', async () => {
    const batch = encodeURIComponent(JSON.stringify({ 0: { json: {} }, 1: { json: { limit: 1 } } }));
    const res = await fetch(`${service.url}/trpc/institutions.list,connections.list?batch=1&input=${batch}`, {
      headers: { authorization: `Bearer ${app.apiKey}` },
    });
    expect(res.status).toBe(200);
    expect(await lineOf(res)).toMatchObject({ method: 'GET', procedure: 'institutions.list,connections.list', status: 200, appId: app.id });
  });

  it('a hosted page: its route pattern, never its token', async () => {
    const { url } = await app.client.connectSessions.create.mutate({ userId: 'access-log', redirectUri: REDIRECT });
    const token = url.split('/').at(-1)!;
    const res = await fetch(`${url}?lang=en`);
    expect(res.status).toBe(200);
    const line = await lineOf(res);
    expect(line).toMatchObject({ method: 'GET', route: '/connect/:token', status: 200 });
    expect(line).not.toHaveProperty('procedure');
    const status = await fetch(`${url}/status`);
    expect(await lineOf(status)).toMatchObject({ route: '/connect/:token/status', status: 200 });
    // An unknown path under a token matches no route: it is `unmatched`, not its URL.
    const unknown = await fetch(`${url}/no/such/page`);
    expect(unknown.status).toBe(404);
    expect(await lineOf(unknown)).toMatchObject({ route: 'unmatched', status: 404 });
    expect(logLines.join('\n')).not.toContain(token);
  });

  it('a client that goes away before the answer: logged as aborted, 499', async () => {
    // The procedure waits until the client has gone (a gate this test opens), so the order is certain.
    const original = service.services.institutions.list.bind(service.services.institutions);
    let entered!: () => void;
    const reached = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    service.services.institutions.list = async (query) => {
      entered();
      await gate;
      return original(query);
    };
    try {
      const controller = new AbortController();
      const call = fetch(`${service.url}/trpc/institutions.list?input=${input({})}`, {
        headers: { authorization: `Bearer ${app.apiKey}`, 'x-request-id': 'access-log-aborted' },
        signal: controller.signal,
      }).catch((error: unknown) => error);
      await reached;
      controller.abort();
      expect(await call).toBeInstanceOf(Error);
      const line = await waitUntil(
        async () =>
          logLines
            .map((l) => JSON.parse(l) as Line & { aborted?: boolean })
            .find((l) => l.msg === 'request' && l.requestId === 'access-log-aborted'),
        5_000,
        'the aborted request to be logged',
      );
      expect(line).toMatchObject({ procedure: 'institutions.list', status: 499, aborted: true, appId: app.id });
    } finally {
      release();
      service.services.institutions.list = original;
    }
  });

  it('/healthz and /metrics are logged at debug, the rest at info', async () => {
    const res = await fetch(`${service.url}/healthz`);
    expect(await lineOf(res)).toMatchObject({ level: 20, route: '/healthz', status: 200 });
    const metrics = await fetch(`${service.url}/metrics`);
    expect(await lineOf(metrics)).toMatchObject({ level: 20, route: '/metrics', status: 200 });
  });
});

describe('request metrics', () => {
  it('count requests by procedure and status, with durations; unknown paths are one label', async () => {
    const labels = (procedure: string, status: string) => ({ procedure, status });
    const before = await scrape();
    const auth = { authorization: `Bearer ${app.apiKey}` };
    for (let i = 0; i < 3; i++)
      expect((await fetch(`${service.url}/trpc/institutions.list?input=${input({})}`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${service.url}/trpc/institutions.list?input=${input({})}`)).status).toBe(401);
    for (const path of ['/trpc/no.such.procedure', '/nothing-here', `/trpc/${'x'.repeat(50)}`]) {
      expect((await fetch(`${service.url}${path}`, { headers: auth })).status).toBe(404);
    }
    const mixed = encodeURIComponent(JSON.stringify({ 0: { json: {} }, 1: { json: { limit: 1 } } }));
    expect((await fetch(`${service.url}/trpc/institutions.list,connections.list?batch=1&input=${mixed}`, { headers: auth })).status).toBe(
      200,
    );

    // The last response's counters move when its finish handler runs, just after the client has the answer.
    const after = await waitUntil(
      async () => {
        const text = await scrape();
        return (
          sample(text, 'cs_http_requests_total', labels('batch', '200')) >
            sample(before, 'cs_http_requests_total', labels('batch', '200')) && text
        );
      },
      5_000,
      'the batch to be counted',
    );
    const moved = (name: string, l: Record<string, string>) => sample(after, name, l) - sample(before, name, l);
    expect(moved('cs_http_requests_total', labels('institutions.list', '200'))).toBe(3);
    expect(moved('cs_http_requests_total', labels('institutions.list', '401'))).toBe(1);
    expect(moved('cs_http_requests_total', labels('unmatched', '404'))).toBe(3);
    expect(moved('cs_http_requests_total', labels('batch', '200'))).toBe(1);
    expect(moved('cs_http_request_duration_seconds_count', labels('institutions.list', '200'))).toBe(3);
    expect(sample(after, 'cs_http_request_duration_seconds_sum', labels('institutions.list', '200'))).toBeGreaterThan(0);
    expect(after).not.toContain('no.such.procedure');
    expect(after).not.toContain('nothing-here');
  });
});
