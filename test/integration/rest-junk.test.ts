import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, settleJobs, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { FINGERPRINT_SQL } from '../fuzz/fuzzer.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

// Seeded junk on every REST operation of the document: malformed JSON, wrong types, unknown fields, huge numbers,
// NUL bytes, wrong methods and content types, junk query parameters. Never a 5xx, every error is the JSON error
// body, and no rejected mutation writes a row. REST_JUNK_SEED replays a run.

const CASES = Number(process.env.REST_JUNK_CASES ?? 400);
const SEED = Number(process.env.REST_JUNK_SEED ?? Math.floor(Math.random() * 2 ** 31));

type Json = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string }[];
  bodyFields: string[];
}

let service: TestService;
let app: TestApp;
let connectionId: string;
let operations: Operation[];
beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
  connectionId = (await app.client.connections.create.mutate(connectionInput({ userId: 'junk-user' }))).connection.id;
  await settleJobs(service, [connectionId]);
  const doc = (await (await fetch(`${service.url}/api/v1/openapi.json`)).json()) as Json;
  operations = Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      params: (op.parameters ?? []) as Operation['params'],
      bodyFields: Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {}),
    })),
  );
});
afterAll(() => service.close());

const JUNK_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 64,
  0.5,
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  'x'.repeat(5000),
  '😀',
  '../../etc/passwd',
  [],
  [null],
  [1, 2, 3],
  {},
  { nested: { deeper: [{}] } },
  '2026-13-45T99:99:99Z',
  '0001-01-01',
  'NaN',
  '-0',
  '1e999',
  '00000000-0000-4000-8000-000000000000',
  'not-a-uuid',
  '<script>alert(1)</script>',
  "'; DROP TABLE connections; --",
];
const JUNK_QUERY = [
  '',
  '%00',
  'a%00b',
  '%ZZ',
  '-1',
  '99999999999999999999',
  '1e3',
  'true',
  '[]',
  '{}',
  'x'.repeat(3000),
  '%F0%9F%98%80',
  '..%2F..',
];
const MALFORMED_BODIES = [
  '{',
  '{"a":',
  '[',
  'nul',
  '{"a":1,}',
  "{'a':1}",
  '\u0000',
  '{"a":"\\ud800"}',
  '1'.repeat(400) + 'e99999',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{}}}',
  '[1,2]',
  '"str"',
  'null',
  '{}'.repeat(2),
];
const EXTRA_METHODS = ['PUT', 'OPTIONS', 'PROPFIND', 'PATCH', 'POST'];

function junkCase(random: () => number, op: Operation): { method: string; url: string; headers: Record<string, string>; body?: string } {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const kind = random();
  const headers: Record<string, string> = { authorization: `Bearer ${app.apiKey}` };
  // Path parameters: usually a real connection id (so the body or query is what is wrong), sometimes junk.
  const path = op.path.replace(/\{[^}]+\}/g, () => (random() < 0.6 ? connectionId : encodeURIComponent(String(pick(JUNK_VALUES)))));
  const query = new URLSearchParams();
  const rawQuery: string[] = [];
  for (const p of op.params.filter((p) => p.in === 'query')) {
    if (random() < 0.4) rawQuery.push(`${p.name}=${pick(JUNK_QUERY)}`);
  }
  if (random() < 0.3) query.append(pick(['junk', 'filter', '__proto__', 'limit[]', 'a.b']), String(pick(JUNK_VALUES)));
  const qs = [query.toString(), ...rawQuery].filter(Boolean).join('&');
  const url = `${service.url}/api/v1${path}${qs ? `?${qs}` : ''}`;
  const method = kind < 0.08 ? pick(EXTRA_METHODS) : op.method;
  if (method === 'GET' || method === 'DELETE' || method === 'OPTIONS') return { method, url, headers };

  if (kind < 0.3) {
    headers['content-type'] = pick([
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]);
    return { method, url, headers, body: pick(MALFORMED_BODIES) };
  }
  headers['content-type'] = 'application/json';
  const body: Json = {};
  for (const field of op.bodyFields) if (random() < 0.5) body[field] = pick(JUNK_VALUES);
  // At least one thing wrong: a field of the wrong kind, or one that does not exist.
  if (op.bodyFields.length && random() < 0.5) body[pick(op.bodyFields)] = pick([null, 1e308, [{}], { x: 1 }, 'a\u0000b']);
  else body[pick(['unknownField', 'id ', '__proto__x', 'credentials.loginId'])] = pick(JUNK_VALUES);
  return { method, url, headers, body: JSON.stringify(body) };
}

describe('junk on every REST operation', () => {
  it(
    `${CASES} seeded cases: never a 5xx, errors are JSON naming the problem, rejected mutations write nothing`,
    { timeout: 240_000 },
    async () => {
      console.log(`rest junk seed ${SEED} (replay with REST_JUNK_SEED=${SEED})`);
      const random = seededRandom(SEED);
      const fingerprint = async () => (await service.database.db.query(FINGERPRINT_SQL))[0].fingerprint as string;
      const failures: string[] = [];
      const byStatus: Record<number, number> = {};
      for (let i = 0; i < CASES; i++) {
        const op = operations[Math.floor(random() * operations.length)]!;
        const request = junkCase(random, op);
        const mutation = request.method !== 'GET';
        const before = mutation ? await fingerprint() : '';
        const res = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body });
        const text = await res.text();
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        const what = `#${i} ${request.method} ${request.url.slice(0, 200)} ${request.body?.slice(0, 200) ?? ''} → ${res.status} ${text.slice(0, 300)}`;
        if (res.status >= 500) failures.push(what);
        if (res.status >= 400) {
          let body: Json | null = null;
          try {
            body = JSON.parse(text) as Json;
          } catch {
            failures.push(`not JSON: ${what}`);
          }
          if (body && (typeof body.code !== 'string' || typeof body.message !== 'string' || !('requestId' in body)))
            failures.push(`not the error body: ${what}`);
          if (body && res.status === 400 && !(body.issues?.length > 0)) failures.push(`a 400 naming nothing: ${what}`);
          if (mutation && (await fingerprint()) !== before) failures.push(`a rejected mutation wrote: ${what}`);
        }
      }
      console.log(`rest junk seed ${SEED}: answers by status ${JSON.stringify(byStatus)}`);
      expect(failures.slice(0, 10), `seed ${SEED}`).toEqual([]);
      expect(byStatus[400]).toBeGreaterThan(CASES / 4);
    },
  );
});
