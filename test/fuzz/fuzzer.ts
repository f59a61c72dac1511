import superjson from 'superjson';
import { seededRandom } from '../helpers/seeded-random.ts';

/**
 * A seeded fuzzer for the whole API over real HTTP. Each case takes a valid input of a procedure and breaks it
 * (a hostile value at a field, a missing or unknown field, another type, a Map where an object belongs, a huge or
 * deep value, a forged cursor or envelope), sends it the way a client would (superjson over GET or POST, or raw
 * bytes), and checks what a user may rely on: never a 5xx, every 400 names what was wrong, and a rejected
 * mutation changes no row. The same seed gives the same cases, so a failure can be replayed.
 */

export interface FuzzTarget {
  baseUrl: string;
  apiKey: string;
  /** Ids the valid inputs can use: the fuzzing app's own, and another app's. */
  fixtures: FuzzFixtures;
  /** A fingerprint of every row the API can write; compared around each rejected mutation. */
  fingerprint(): Promise<string>;
}

export interface FuzzFixtures {
  connectionId: string;
  busyConnectionId: string;
  userId: string;
  jobId: string;
  accountId: string;
  endpointId: string;
  deliveryId: string;
  ruleId: string;
  eventId: string;
  /** Another app's connection: any use of it must look like a missing id. */
  foreignConnectionId: string;
}

export interface FuzzFailure {
  case: number;
  procedure: string;
  what: string;
  request: string;
  status: number;
  body: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  byStatus: Record<string, number>;
  failures: FuzzFailure[];
}

type Kind = 'query' | 'mutation';
interface Procedure {
  path: string;
  kind: Kind;
  valid: (f: FuzzFixtures, d: Dice) => Record<string, unknown> | undefined;
}

const iso = (d: Date) => d.toISOString();

/** Every procedure of the router, with a valid input for each. */
export const PROCEDURES: Procedure[] = [
  { path: 'institutions.list', kind: 'query', valid: () => ({ country: 'AU', search: 'Hooli' }) },
  { path: 'institutions.get', kind: 'query', valid: () => ({ id: 'AU00000' }) },
  {
    path: 'connections.create',
    kind: 'mutation',
    valid: (_f, d) => ({
      userId: `fuzz-${d.uuid().slice(0, 8)}`,
      institutionId: 'AU00000',
      credentials: { loginId: 'gavinBelson', password: 'pw' },
      datasets: ['BANK_ACCOUNT'],
      name: 'Fuzzed',
      scopes: ['a'],
      autoRefresh: true,
      refreshIntervalMinutes: 1440,
    }),
  },
  { path: 'connections.get', kind: 'query', valid: (f) => ({ id: f.connectionId }) },
  {
    path: 'connections.list',
    kind: 'query',
    valid: (f) => ({
      userId: f.userId,
      filter: { ids: [f.connectionId], status: 'ACTIVE', state: ['pending'], institutionId: 'AU00000', method: 'built-in' },
      limit: 5,
    }),
  },
  {
    path: 'connections.update',
    kind: 'mutation',
    valid: (f) => ({ id: f.busyConnectionId, name: 'x', version: 1, autoRefresh: false, refreshIntervalMinutes: 120 }),
  },
  { path: 'connections.refresh', kind: 'mutation', valid: (f) => ({ id: f.busyConnectionId }) },
  { path: 'connections.refreshAll', kind: 'mutation', valid: (f) => ({ userId: f.userId }) },
  { path: 'connections.delete', kind: 'mutation', valid: (f) => ({ id: f.busyConnectionId }) },
  { path: 'connections.deleteAll', kind: 'mutation', valid: (f) => ({ userId: f.userId }) },
  { path: 'jobs.get', kind: 'query', valid: (f) => ({ id: f.jobId }) },
  { path: 'jobs.list', kind: 'query', valid: (f) => ({ connectionId: f.connectionId, limit: 5 }) },
  { path: 'jobs.answerChallenge', kind: 'mutation', valid: (f) => ({ id: f.jobId, response: '123456' }) },
  { path: 'accounts.list', kind: 'query', valid: (f) => ({ connectionId: f.connectionId }) },
  {
    path: 'transactions.list',
    kind: 'query',
    valid: (f) => ({ connectionId: f.connectionId, from: new Date('2020-01-01'), to: new Date('2030-01-01'), limit: 5 }),
  },
  {
    path: 'events.list',
    kind: 'query',
    valid: (f) => ({ since: new Date('2020-01-01'), types: ['connection.created'], connectionId: f.connectionId, limit: 5 }),
  },
  {
    path: 'webhooks.endpoints.create',
    kind: 'mutation',
    valid: (f) => ({ url: 'http://127.0.0.1:9/fuzz', description: 'fuzz', eventTypes: ['connection.*'], connectionIds: [f.connectionId] }),
  },
  { path: 'webhooks.endpoints.list', kind: 'query', valid: () => ({ limit: 5 }) },
  { path: 'webhooks.endpoints.get', kind: 'query', valid: (f) => ({ id: f.endpointId }) },
  {
    path: 'webhooks.endpoints.update',
    kind: 'mutation',
    valid: (f) => ({ id: f.endpointId, description: 'y', eventTypes: null, enabled: true }),
  },
  { path: 'webhooks.endpoints.delete', kind: 'mutation', valid: (_f, d) => ({ id: d.uuid() }) },
  { path: 'webhooks.endpoints.rotateSecret', kind: 'mutation', valid: (_f, d) => ({ id: d.uuid() }) },
  { path: 'webhooks.endpoints.test', kind: 'mutation', valid: (_f, d) => ({ id: d.uuid() }) },
  { path: 'webhooks.endpoints.recover', kind: 'mutation', valid: (f) => ({ id: f.endpointId, since: new Date('2020-01-01') }) },
  {
    path: 'webhooks.deliveries.list',
    kind: 'query',
    valid: (f) => ({ endpointId: f.endpointId, eventId: f.eventId, status: 'pending', limit: 5 }),
  },
  { path: 'webhooks.deliveries.resend', kind: 'mutation', valid: (f) => ({ id: f.deliveryId }) },
  {
    path: 'notificationRules.create',
    kind: 'mutation',
    valid: (f) => ({
      triggerEvent: 'LOW_ACCOUNT_BALANCE',
      params: { threshold: '10.5', accountIds: [f.accountId] },
      connectionIds: [f.connectionId],
      endpointId: f.endpointId,
      includeDetails: false,
    }),
  },
  { path: 'notificationRules.list', kind: 'query', valid: () => undefined },
  { path: 'notificationRules.get', kind: 'query', valid: (f) => ({ id: f.ruleId }) },
  { path: 'notificationRules.update', kind: 'mutation', valid: (f) => ({ id: f.ruleId, params: { threshold: 5 }, includeDetails: true }) },
  { path: 'notificationRules.delete', kind: 'mutation', valid: (_f, d) => ({ id: d.uuid() }) },
  { path: 'apps.get', kind: 'query', valid: () => undefined },
  { path: 'apps.addRedirectUri', kind: 'mutation', valid: (_f, d) => ({ uri: `https://app.example.com/${d.uuid().slice(0, 8)}` }) },
  { path: 'apps.removeRedirectUri', kind: 'mutation', valid: () => ({ uri: 'https://app.example.com/gone' }) },
  {
    path: 'connectSessions.create',
    kind: 'mutation',
    valid: (f) => ({
      userId: f.userId,
      institutionId: 'AU00000',
      datasets: ['BANK_ACCOUNT'],
      consentDays: 30,
      locale: 'de',
      connectionId: f.busyConnectionId,
    }),
  },
  { path: 'connectSessions.get', kind: 'query', valid: (_f, d) => ({ id: d.uuid() }) },
  { path: 'connectSessions.cancel', kind: 'mutation', valid: (_f, d) => ({ id: d.uuid() }) },
];

class Dice {
  constructor(readonly random: () => number) {}
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  /** A version-4-shaped uuid from the seed (a fresh one would make a failure impossible to replay). */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

function deep(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** Values that have broken services before, and the types a field is not. */
function hostileValue(d: Dice, f: FuzzFixtures): unknown {
  const values: (() => unknown)[] = [
    () => null,
    () => undefined,
    () => true,
    () => 0,
    () => -1,
    () => 1.5,
    () => Number.NaN,
    () => Number.POSITIVE_INFINITY,
    () => -0,
    () => 2 ** 53 + 1,
    () => 1e308,
    () => -1e308,
    () => 10n ** 30n,
    () => '',
    () => ' ',
    () => '\u0000',
    () => 'ok\u0000',
    () => 'x'.repeat(d.pick([256, 1025, 5000, 70_000])),
    () => '\ud800',
    () => '💸'.repeat(300),
    () => "'; DROP TABLE connections; --",
    () => '../../../etc/passwd',
    () => '<script>alert(1)</script>',
    () => '%00%27',
    () => '\u202e\u0007\u001b[31m',
    () => d.uuid(),
    () => f.foreignConnectionId,
    () => 'not-a-uuid',
    () => '-100000-01-01',
    () => '+275760-09-13T00:00:00.000Z',
    () => '2026-13-45',
    () => '1970-01-01T00:00:00Z',
    () => new Date(-8.64e15),
    () => new Date(8.64e15),
    () => new Date(Number.NaN),
    () => new Date('0000-01-01T00:00:00Z'),
    () => new Date(),
    () => [],
    () => [[]],
    () => Array.from({ length: d.pick([51, 1001, 5000]) }, () => d.uuid()),
    () => [null, 1, 'a', {}],
    () => ({}),
    () => ({ __proto__: { polluted: true } }),
    () => JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
    () => ({ constructor: { prototype: { polluted: true } } }),
    () => deep(d.pick([20, 200, 2000])),
    () => new Map([['a', 1]]),
    () => new Set(['ACTIVE']),
    () => /.*/,
    () => new Error('boom'),
    () => Buffer.from('bytes').toString('base64url'),
    () => Buffer.from(JSON.stringify(['-100000-01-01T00:00:00.000Z', d.uuid()])).toString('base64url'),
    () => Buffer.from('events:9999999999999999999').toString('base64url'),
    () => Buffer.from('events:-1').toString('base64url'),
  ];
  return d.pick(values)();
}

/** Every path to a value inside an input (object keys and list positions). */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...paths(v, [...prefix, i])]);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
  }
  return [];
}

function setAt(root: Record<string, unknown>, path: (string | number)[], value: unknown, remove = false): void {
  let node: Record<string | number, unknown> = root;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (remove) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = value;
}

interface Mutated {
  what: string;
  input: unknown;
}

/** One way of breaking a valid input. */
function mutate(d: Dice, f: FuzzFixtures, valid: Record<string, unknown> | undefined): Mutated {
  const base = valid === undefined ? {} : (structuredClone(valid) as Record<string, unknown>);
  const all = paths(base);
  const choice = d.int(10);
  if (choice <= 3 && all.length) {
    const at = d.pick(all);
    const value = hostileValue(d, f);
    setAt(base, at, value);
    return { what: `${at.join('.')} = ${describe(value)}`, input: base };
  }
  if (choice === 4 && all.length) {
    const at = d.pick(all);
    setAt(base, at, undefined, true);
    return { what: `without ${at.join('.')}`, input: base };
  }
  if (choice === 5) {
    const key = d.pick(['extra', '__proto__', 'constructor', 'toString', '', ' ', 'a.b', '\u0000', 'x'.repeat(300)]);
    base[key] = hostileValue(d, f);
    return { what: `unknown key ${JSON.stringify(key).slice(0, 40)}`, input: base };
  }
  if (choice === 6) {
    const n = d.pick([100, 5_000, 30_000]);
    for (let i = 0; i < n; i++) base[`k${i}`] = i;
    return { what: `${n} unknown keys`, input: base };
  }
  if (choice === 7 && all.length) {
    // An object (or the whole input) as a Map, Set or Date.
    const objects = all.filter((p) => {
      let v: unknown = base;
      for (const k of p) v = (v as Record<string | number, unknown>)[k];
      return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
    });
    const wrap = (v: unknown) => d.pick([new Map(Object.entries(v as object)), new Set(Object.values(v as object)), new Date()]);
    if (objects.length && d.chance(0.5)) {
      const at = d.pick(objects);
      let v: unknown = base;
      for (const k of at) v = (v as Record<string | number, unknown>)[k];
      const wrapped = wrap(v);
      setAt(base, at, wrapped);
      return { what: `${at.join('.')} as ${describe(wrapped)}`, input: base };
    }
    const wrapped = wrap(base);
    return { what: `the whole input as ${describe(wrapped)}`, input: wrapped };
  }
  const whole = hostileValue(d, f);
  return { what: `the whole input = ${describe(whole)}`, input: whole };
}

function describe(value: unknown): string {
  if (value instanceof Map) return 'a Map';
  if (value instanceof Set) return 'a Set';
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? 'NaN' : iso(value)})`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…(${value.length})` : value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value && typeof value === 'object') return 'object';
  return String(value);
}

interface Request {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** How the case travels: superjson as the client sends it (GET for queries, or POST), or a raw, broken body. */
function request(d: Dice, target: FuzzTarget, p: Procedure, input: unknown): { req: Request; raw: string } {
  const headers: Record<string, string> = { authorization: `Bearer ${target.apiKey}` };
  if (p.kind === 'mutation' && d.chance(0.15)) {
    headers['idempotency-key'] = d.pick([d.uuid(), 'x'.repeat(300), 'tab\there', 'ünicode']);
  }
  let payload: string;
  const rawChoice = d.int(20);
  if (rawChoice === 0) payload = '{"json": ';
  else if (rawChoice === 1) payload = JSON.stringify({ json: { id: 'x' }, meta: { values: { id: [['custom', 'nope']] } } });
  else if (rawChoice === 2) payload = JSON.stringify({ json: { a: 1 }, meta: { values: { '__proto__.polluted': ['map'] } } });
  else if (rawChoice === 3) payload = JSON.stringify({ notJson: true });
  else payload = envelope(input);
  const url = `${target.baseUrl}/trpc/${p.path}`;
  const odd = d.int(25);
  if (odd === 0) {
    // A batch of two calls, one of them broken, or a batch body that is not one.
    const body = d.pick([`{"0":${payload},"1":${envelope(p.valid(target.fixtures, d))}}`, payload, '[]', '{"0":']);
    return {
      req: { method: 'POST', url: `${url},${p.path}?batch=1`, headers: { ...headers, 'content-type': 'application/json' }, body },
      raw: body,
    };
  }
  if (odd === 1) {
    // Another content type, or none.
    const contentType = d.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']);
    return {
      req: { method: 'POST', url, headers: contentType ? { ...headers, 'content-type': contentType } : headers, body: payload },
      raw: payload,
    };
  }
  if (odd === 2) {
    // A key that is not one, or none at all.
    const authorization = d.pick([
      '',
      'Bearer',
      'Bearer csk_',
      `Basic ${target.apiKey}`,
      `Bearer ${target.apiKey}x`,
      `Bearer csk_${'x'.repeat(5_000)}`,
    ]);
    return { req: { method: 'POST', url, headers: { authorization, 'content-type': 'application/json' }, body: payload }, raw: payload };
  }
  const getUrl = `${url}?input=${encodeURIComponent(payload)}`;
  // A query too long for a URL goes as POST, as httpLink's methodOverride sends it (no client sends 600 kB URLs;
  // the server's 16 kB header limit answers 431 to the ones that come close).
  if (p.kind === 'query' && getUrl.length < 24_000 && d.chance(0.7)) {
    return { req: { method: 'GET', url: getUrl, headers }, raw: payload };
  }
  return { req: { method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, body: payload }, raw: payload };
}

/**
 * superjson's envelope, as @trpc/client would send it; for what superjson refuses to write (a `constructor` key),
 * the plain-JSON envelope a hand-written client would send.
 */
function envelope(input: unknown): string {
  try {
    return JSON.stringify(superjson.serialize(input));
  } catch {
    try {
      return JSON.stringify({ json: input });
    } catch {
      return '{"json":null}';
    }
  }
}

/** What a user may rely on, whatever they sent; null when it holds. */
function problemWith(status: number, body: string): string | null {
  if (status >= 500) return `status ${status}`;
  // 207: a batch whose calls had different outcomes; each one answering 400 must name its problem too.
  if (status !== 400 && status !== 207) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'a 400 whose body is not JSON';
  }
  const answers = Array.isArray(parsed) ? parsed : [parsed];
  for (const answer of answers as { error?: { json?: { message?: string; data?: { issues?: unknown; httpStatus?: number } } } }[]) {
    const error = answer.error?.json;
    if (error?.data?.httpStatus !== undefined && error.data.httpStatus >= 500) return `a batched call answered ${error.data.httpStatus}`;
    if (!error || error.data?.httpStatus !== 400) continue;
    const issues = error.data?.issues;
    if (!Array.isArray(issues) || issues.length === 0) return 'a 400 without issues naming what was wrong';
    for (const issue of issues as { path?: unknown; message?: unknown }[]) {
      if (!Array.isArray(issue.path) || typeof issue.message !== 'string' || !issue.message) return 'an issue without a path and a message';
    }
    if (typeof error.message !== 'string' || !error.message.startsWith('Invalid input: '))
      return 'a 400 whose message does not list the issues';
  }
  return null;
}

export async function fuzz(
  target: FuzzTarget,
  options: { seed: number; cases: number; onProgress?: (done: number) => void },
): Promise<FuzzReport> {
  const d = new Dice(seededRandom(options.seed));
  const report: FuzzReport = { seed: options.seed, cases: options.cases, byStatus: {}, failures: [] };
  for (let i = 0; i < options.cases; i++) {
    const p = PROCEDURES[i % PROCEDURES.length]!;
    const { what, input } = mutate(d, target.fixtures, p.valid(target.fixtures, d));
    const { req, raw } = request(d, target, p, input);
    const before = p.kind === 'mutation' ? await target.fingerprint() : null;
    let status: number;
    let body: string;
    try {
      const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
      status = res.status;
      body = await res.text();
    } catch (error) {
      status = 0;
      body = `no answer: ${String(error)}`;
    }
    report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
    let problem = status === 0 ? 'no answer' : problemWith(status, body);
    if (!problem && before !== null && status >= 400 && (await target.fingerprint()) !== before)
      problem = `a rejected mutation (${status}) changed rows`;
    if (problem) {
      report.failures.push({
        case: i,
        procedure: p.path,
        what: `${problem}: ${what}`,
        request: `${req.method} ${raw.slice(0, 300)}`,
        status,
        body: body.slice(0, 600),
      });
    }
    options.onProgress?.(i + 1);
  }
  return report;
}

/** The fingerprint query: every table the API writes, hashed row by row. */
export const FINGERPRINT_SQL = `SELECT md5(concat_ws('|',
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM applications t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM connections t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM jobs t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM accounts t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM transactions t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM events t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM webhook_endpoints t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM webhook_deliveries t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM webhook_delivery_attempts t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM notification_rules t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM idempotency_keys t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM provider_pauses t),
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM connect_sessions t))) AS fingerprint`;
