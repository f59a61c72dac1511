import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import { generate } from 'openapi-typescript-codegen';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../../src/api/app-router.ts';
import { createTestApp, settleJobs, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// The REST API at /api/v1: its OpenAPI document, a client generated from that document, and the HTTP behaviour a
// client that is not @trpc/client relies on (plain JSON, ISO dates, status codes, errors that name the field).

const run = promisify(execFile);

let service: TestService;
let app: TestApp;
let api: string;
let auth: Record<string, string>;
beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
  api = `${service.url}/api/v1`;
  auth = { authorization: `Bearer ${app.apiKey}` };
});
afterAll(() => service.close());

/** What the test calls of the generated client (use.ts type-checks the generated code itself). */
type Json = Record<string, any>;
interface ApiErrorLike extends Error {
  status: number;
  body: unknown;
}
interface GeneratedClient {
  OpenAPI: { BASE: string; TOKEN?: string };
  ApiError: abstract new (...args: never[]) => ApiErrorLike;
  ConnectionsService: Record<
    'connectionsCreate' | 'connectionsGet' | 'connectionsList' | 'connectionsRefresh' | 'connectionsDelete',
    (options: Json) => Promise<Json>
  >;
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe('the OpenAPI document', () => {
  it('validates as OpenAPI 3.1, with a bearer scheme and a server under /api/v1', async () => {
    const doc = (await (await fetch(`${api}/openapi.json`)).json()) as Record<string, any>;
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.servers).toEqual([{ url: `${service.url}/api/v1` }]);
  });

  it('has one operation per procedure of the router, every one protected', async () => {
    const doc = (await (await fetch(`${api}/openapi.json`)).json()) as Record<string, any>;
    const operations = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((item) => Object.values(item));
    expect(operations.map((o) => o.operationId as string).sort((a, b) => a.localeCompare(b))).toEqual(
      Object.keys(appRouter._def.procedures)
        .map((p) => p.replace(/\./g, '-'))
        .sort((a, b) => a.localeCompare(b)),
    );
    for (const op of operations) expect(op.security).toEqual([{ bearer: [] }]);
  });

  it('describes dates as date-time strings, and a create as 201', async () => {
    const doc = (await (await fetch(`${api}/openapi.json`)).json()) as Record<string, any>;
    const connection = doc.components.schemas.Connection;
    expect(connection.properties.createdAt).toEqual({ type: 'string', format: 'date-time' });
    expect(connection.properties.consentExpiresAt.anyOf).toContainEqual({ type: 'string', format: 'date-time' });
    expect(Object.keys(doc.paths['/connections'].post.responses)).toContain('201');
    expect(doc.paths['/connections'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['userId', 'status', 'state', 'institutionId', 'method', 'cursor', 'limit']),
    );
  });
});

describe('a client generated from the document', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-rest-client-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('type-checks, and creates, gets, lists, refreshes and deletes a connection', { timeout: 120_000 }, async () => {
    const doc = await (await fetch(`${api}/openapi.json`)).json();
    await generate({
      input: doc as Record<string, unknown>,
      output: join(dir, 'client'),
      httpClient: 'fetch',
      useOptions: true,
      useUnionTypes: true,
    });
    // A strict consumer of the generated code, type-checked as it is (TypeScript's own compiler, no flags relaxed).
    await writeFile(
      join(dir, 'use.ts'),
      `import { ConnectionsService, OpenAPI, type Connection } from './client/index.ts';
OpenAPI.BASE = 'http://localhost/api/v1';
export async function demo(): Promise<string> {
  const { connection } = await ConnectionsService.connectionsCreate({ requestBody: { userId: 'u', institutionId: 'AU00000' } });
  const again: Connection = await ConnectionsService.connectionsGet({ id: connection.id });
  const created: string = again.createdAt;
  return created;
}
`,
    );
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          allowImportingTsExtensions: true,
          lib: ['ES2022', 'DOM'],
          skipLibCheck: true,
          types: [],
        },
        include: ['use.ts', 'client/**/*.ts'],
      }),
    );
    const tsc = join(process.cwd(), 'node_modules', '.bin', 'tsc');
    const checked = await run(tsc, ['-p', join(dir, 'tsconfig.json')]).then(
      () => 'type-checks',
      (e: { stdout?: string; stderr?: string; message: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`,
    );
    expect(checked).toBe('type-checks');

    const client = (await import(join(dir, 'client', 'index.ts'))) as GeneratedClient;
    client.OpenAPI.BASE = api;
    client.OpenAPI.TOKEN = app.apiKey;
    const { ConnectionsService, ApiError } = client;

    const created = await ConnectionsService.connectionsCreate({
      requestBody: {
        userId: 'rest-user',
        institutionId: 'AU00000',
        credentials: { loginId: 'gavinBelson', password: 'hooli' },
        name: 'Everyday',
      },
    });
    expect(created.connection).toMatchObject({ userId: 'rest-user', institutionId: 'AU00000', name: 'Everyday', status: 'INITIATED' });
    expect(created.job.status).toBe('queued');
    // Plain JSON: dates are ISO strings.
    expect(new Date(created.connection.createdAt).toISOString()).toBe(created.connection.createdAt);
    const id = created.connection.id;

    expect(await ConnectionsService.connectionsGet({ id })).toEqual(created.connection);

    const listed = await ConnectionsService.connectionsList({
      userId: 'rest-user',
      status: 'INITIATED',
      institutionId: ['AU00000'],
      limit: 10,
    });
    expect(listed.items.map((c: Json) => c.id)).toEqual([id]);
    expect(listed.nextCursor).toBeNull();
    expect((await ConnectionsService.connectionsList({ userId: 'rest-user', status: 'ACTIVE' })).items).toEqual([]);

    // The create job is still queued: refresh answers it rather than queue another.
    const refreshing = await ConnectionsService.connectionsRefresh({ id });
    expect(refreshing).toMatchObject({ connectionId: id, alreadyRunning: true, job: { id: created.job.id } });

    await settleJobs(service, [id]);
    expect(await ConnectionsService.connectionsDelete({ id })).toEqual({ id });
    const gone = await ConnectionsService.connectionsGet({ id }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(ApiError);
    expect((gone as ApiErrorLike).status).toBe(404);
    expect((gone as ApiErrorLike).body).toMatchObject({ code: 'NOT_FOUND', message: `connection ${id} not found` });
  });
});

describe('REST over HTTP', () => {
  it('a create answers 201 with plain JSON; the same Idempotency-Key answers it again without a second connection', async () => {
    const body = { userId: 'idem-user', institutionId: 'AU00000', credentials: { loginId: 'gavinBelson', password: 'x' } };
    const first = await fetch(`${api}/connections`, json(body, { 'idempotency-key': 'rest-key-1' }));
    expect(first.status).toBe(201);
    const second = await fetch(`${api}/connections`, json(body, { 'idempotency-key': 'rest-key-1' }));
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const [a, b] = [(await first.json()) as Json, (await second.json()) as Json];
    expect(b.connection.id).toBe(a.connection.id);
    const list = (await (await fetch(`${api}/connections?userId=idem-user`, { headers: auth })).json()) as Json;
    expect(list.items).toHaveLength(1);
  });

  it('every list and get answers 200 from its query-string form, one value or repeated', async () => {
    const created = (await (
      await fetch(
        `${api}/connections`,
        json({ userId: 'lists-user', institutionId: 'AU00000', credentials: { loginId: 'a', password: 'b' } }),
      )
    ).json()) as Json;
    const id = created.connection.id as string;
    const endpoint = (await (await fetch(`${api}/webhooks/endpoints`, json({ url: 'http://127.0.0.1:9/hook' }))).json()) as Json;
    const rule = await fetch(`${api}/notification-rules`, json({ triggerEvent: 'BANK_LOGIN_ERROR', endpointId: endpoint.endpoint.id }));
    expect(rule.status).toBe(201);
    for (const path of [
      '/app',
      '/institutions?country=AU',
      '/institutions/AU00000',
      `/connections?ids=${id}`,
      `/connections?ids=${id}&ids=00000000-0000-4000-8000-000000000000&status=INITIATED&status=ACTIVE`,
      `/jobs?connectionId=${id}&limit=5`,
      `/jobs/${created.job.id}`,
      `/accounts?connectionId=${id}`,
      '/accounts?userId=lists-user',
      `/transactions?connectionId=${id}&from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00.000Z&limit=10`,
      '/events?types=connection.created&limit=5',
      '/events?types=connection.created&types=job.completed&since=2026-01-01T00:00:00Z',
      '/webhooks/endpoints?limit=2',
      `/webhooks/endpoints/${endpoint.endpoint.id}`,
      `/webhooks/deliveries?endpointId=${endpoint.endpoint.id}&status=pending`,
      '/notification-rules',
    ]) {
      const res = await fetch(`${api}${path}`, { headers: auth });
      expect(`${path} → ${res.status}`).toBe(`${path} → 200`);
    }
    const events = (await (await fetch(`${api}/events?types=connection.created`, { headers: auth })).json()) as Json;
    expect(events.items.length).toBeGreaterThan(0);
    expect(events.items.every((e: Json) => e.type === 'connection.created' && typeof e.occurredAt === 'string')).toBe(true);
  });

  it('PATCH changes a connection; a stale version is 409; answering a job that waits for nothing is 412', async () => {
    const created = (await (
      await fetch(
        `${api}/connections`,
        json({ userId: 'patch-user', institutionId: 'AU00000', credentials: { loginId: 'a', password: 'b' } }),
      )
    ).json()) as Json;
    const { id, version } = created.connection as { id: string; version: number };
    await settleJobs(service, [id]);
    const patched = await fetch(`${api}/connections/${id}`, { ...json({ name: 'Renamed', version }), method: 'PATCH' });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as Json).connection).toMatchObject({ id, name: 'Renamed', version: version + 1 });
    const stale = await fetch(`${api}/connections/${id}`, { ...json({ name: 'Again', version }), method: 'PATCH' });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ code: 'CONFLICT' });
    const answer = await fetch(`${api}/jobs/${created.job.id}/challenge`, json({ response: '123456' }));
    expect(answer.status).toBe(412);
    expect(await answer.json()).toMatchObject({ code: 'PRECONDITION_FAILED' });
  });

  it('a database that cannot be reached is 503 with Retry-After; a real fault is 500 with only the request id', async () => {
    const original = service.services.connections.get.bind(service.services.connections);
    const id = '00000000-0000-4000-8000-000000000000';
    try {
      service.services.connections.get = async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      };
      const away = await fetch(`${api}/connections/${id}`, { headers: auth });
      expect(away.status).toBe(503);
      expect(Number(away.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await away.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      service.services.connections.get = async () => {
        await service.database.db.query('SELECT * FROM table_that_does_not_exist');
        return original(app.id, id);
      };
      const fault = await fetch(`${api}/connections/${id}`, { headers: { ...auth, 'x-request-id': 'req-500' } });
      expect(fault.status).toBe(500);
      const text = await fault.text();
      expect(JSON.parse(text)).toMatchObject({
        code: 'INTERNAL_SERVER_ERROR',
        message: 'Internal error (request id req-500)',
        requestId: 'req-500',
      });
      expect(text).not.toContain('table_that_does_not_exist');
    } finally {
      service.services.connections.get = original;
    }
  });

  it('a bad body is 400 naming the field, with the request id', async () => {
    const res = await fetch(`${api}/connections`, json({ userId: '  ', institutionId: 'AU00000' }, { 'x-request-id': 'req-400' }));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      code: 'BAD_REQUEST',
      message: 'Invalid input: userId: must not be empty',
      issues: [{ path: ['userId'], message: 'must not be empty' }],
      issueCount: 1,
      requestId: 'req-400',
    });
  });

  it('names unknown fields and bad query parameters', async () => {
    const unknown = (await (
      await fetch(`${api}/connections`, json({ userId: 'u', institutionId: 'AU00000', colour: 'red' }))
    ).json()) as Json;
    expect(unknown.issues).toEqual([{ path: ['colour'], message: 'unknown field' }]);
    const query = await fetch(`${api}/connections?limit=abc&status=SLEEPING&junk=1`, { headers: auth });
    expect(query.status).toBe(400);
    const paths = ((await query.json()) as Json).issues.map((i: { path: unknown[] }) => i.path[0]);
    expect(paths).toEqual(expect.arrayContaining(['limit', 'status', 'junk']));
  });

  it('answers 401 without a key, 404 for a missing id, 405 for a wrong method, 404 for an unknown path', async () => {
    const noKey = await fetch(`${api}/connections`);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    const missing = await fetch(`${api}/connections/00000000-0000-4000-8000-000000000000`, { headers: auth });
    expect(missing.status).toBe(404);
    const wrong = await fetch(`${api}/connections/00000000-0000-4000-8000-000000000000`, { method: 'PUT', headers: auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toContain('PATCH');
    const nowhere = await fetch(`${api}/no-such-thing`, { headers: auth });
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a body that is not JSON is 400, another content type 415, one too large 413, and nothing is written', async () => {
    const before = await service.database.db.query('SELECT count(*)::int AS n FROM connections');
    const malformed = await fetch(`${api}/connections`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"userId": "u",',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'BAD_REQUEST', issues: [{ path: [] }] });
    const text = await fetch(`${api}/connections`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'userId=u',
    });
    expect(text.status).toBe(415);
    const huge = await fetch(`${api}/connections`, json({ userId: 'u', institutionId: 'AU00000', name: 'x'.repeat(2 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(await service.database.db.query('SELECT count(*)::int AS n FROM connections')).toEqual(before);
  });

  it('a POST without a body is an empty object (refresh with nothing to send)', async () => {
    const res = await fetch(`${api}/connections/00000000-0000-4000-8000-000000000000/refresh`, { method: 'POST', headers: auth });
    expect(res.status).toBe(404);
  });

  it('serves a reference page from its own assets under a strict CSP', async () => {
    const page = await fetch(`${api}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const asset of html.matchAll(/(?:src|href)="(docs\/assets\/[^"]+)"/g)) {
      const res = await fetch(`${api}/${asset[1]}`);
      expect(res.status).toBe(200);
      expect(await res.text()).not.toMatch(/https?:\/\//);
    }
  });

  it('REST calls leave tRPC input rules as they were: "false" is no boolean, true no limit, null no date', async () => {
    // trpc-to-openapi switches zod coercion on for plain top-level numbers, booleans and dates of the inputs it
    // serves (schemas tRPC shares); the inputs avoid them. Serve each kind over REST first, then ask tRPC.
    await fetch(`${api}/connections`, json({ userId: 'coerce-user', institutionId: 'AU00000', autoRefresh: 'false' }));
    await fetch(`${api}/connections?limit=5`, { headers: auth });
    await fetch(`${api}/transactions?connectionId=00000000-0000-4000-8000-000000000000&from=2026-01-01T00:00:00Z`, { headers: auth });
    const rest = (await (
      await fetch(`${api}/connections`, json({ userId: 'coerce-user', institutionId: 'AU00000', autoRefresh: 'false' }))
    ).json()) as Json;
    expect(rest.issues).toEqual([{ path: ['autoRefresh'], message: expect.any(String) }]);
    const bool = await rejection(
      app.client.connections.create.mutate({ userId: 'coerce-user', institutionId: 'AU00000', autoRefresh: 'false' as never }),
    );
    expect(bool.data?.issues?.map((i) => i.path)).toEqual([['autoRefresh']]);
    const limit = await rejection(app.client.connections.list.query({ limit: true as never }));
    expect(limit.data?.issues?.map((i) => i.path)).toEqual([['limit']]);
    const date = await rejection(
      app.client.transactions.list.query({ connectionId: '00000000-0000-4000-8000-000000000000', from: null as never }),
    );
    expect(date.data?.issues?.map((i) => i.path)).toEqual([['from']]);
  });

  it('tRPC at /trpc is unchanged: superjson dates, and the same output validation', async () => {
    const { connection } = await app.client.connections.create.mutate({
      userId: 'trpc-user',
      institutionId: 'AU00000',
      credentials: { loginId: 'a', password: 'b' },
    });
    expect(connection.createdAt).toBeInstanceOf(Date);
    const viaRest = (await (await fetch(`${api}/connections/${connection.id}`, { headers: auth })).json()) as Json;
    expect(viaRest.createdAt).toBe(connection.createdAt.toISOString());
  });
});

describe('REST rate limits', () => {
  it('past the burst: 429 with Retry-After, the same buckets as /trpc', async () => {
    const limited = await startTestService({
      rateLimits: { requestsPerSecond: 0.01, requestBurst: 2, mutationsPerSecond: 0.01, mutationBurst: 1 },
    });
    try {
      const { apiKey } = await createTestApp(limited);
      const headers = { authorization: `Bearer ${apiKey}` };
      expect((await fetch(`${limited.url}/api/v1/app`, { headers })).status).toBe(200);
      // One of the two tokens spent over tRPC: REST shares them.
      await limited.client(apiKey).apps.get.query();
      const refused = await fetch(`${limited.url}/api/v1/app`, { headers });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    } finally {
      await limited.close();
    }
  });
});
