import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, settleJobs, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// Bad input on every mutation: BAD_REQUEST naming the field, never a 500, and the database exactly as it was.

let service: TestService;
let app: TestApp;
let idleId: string;

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
  idleId = (await app.client.connections.create.mutate(connectionInput({ userId: 'bad-input-user' }))).connection.id;
  await settleJobs(service, [idleId]);
});
afterAll(() => service.close());

/** A fingerprint of every row the API can write. */
async function fingerprint(): Promise<string> {
  const [row] = await service.database.db.query(`
    SELECT (SELECT coalesce(md5(string_agg(c::text, '|' ORDER BY c.id)), '') FROM connections c) AS connections,
           (SELECT coalesce(md5(string_agg(j::text, '|' ORDER BY j.id)), '') FROM jobs j) AS jobs,
           (SELECT coalesce(md5(string_agg(a::text, '|' ORDER BY a.id)), '') FROM applications a) AS apps`);
  return JSON.stringify(row);
}

type Case = [name: string, call: () => Promise<unknown>, path: (string | number)[]];

const long = 'x'.repeat(300);
const cases: Case[] = [
  // connections.create
  ['create: userId missing', () => app.client.connections.create.mutate({ institutionId: 'AU00000' } as never), ['userId']],
  ['create: userId empty', () => app.client.connections.create.mutate(connectionInput({ userId: '  ' })), ['userId']],
  ['create: userId with a NUL byte', () => app.client.connections.create.mutate(connectionInput({ userId: 'a\u0000b' })), ['userId']],
  [
    'create: institutionId wrong type',
    () => app.client.connections.create.mutate(connectionInput({ institutionId: 42 as never })),
    ['institutionId'],
  ],
  [
    'create: institutionId with a NUL byte',
    () => app.client.connections.create.mutate(connectionInput({ institutionId: 'AU\u0000' })),
    ['institutionId'],
  ],
  [
    'create: unknown dataset',
    () => app.client.connections.create.mutate(connectionInput({ datasets: ['BANK_ACCOUNT', 'CARDS' as never] })),
    ['datasets', 1],
  ],
  ['create: empty datasets', () => app.client.connections.create.mutate(connectionInput({ datasets: [] })), ['datasets']],
  [
    'create: repeated datasets',
    () => app.client.connections.create.mutate(connectionInput({ datasets: ['BANK_ACCOUNT', 'BANK_ACCOUNT'] })),
    ['datasets'],
  ],
  [
    'create: refresh interval too short',
    () => app.client.connections.create.mutate(connectionInput({ refreshIntervalMinutes: 5 })),
    ['refreshIntervalMinutes'],
  ],
  [
    'create: refresh interval not an integer',
    () => app.client.connections.create.mutate(connectionInput({ refreshIntervalMinutes: 60.5 })),
    ['refreshIntervalMinutes'],
  ],
  [
    'create: credential value not a string',
    () => app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'a', password: 1 as never } })),
    ['credentials', 'password'],
  ],
  [
    'create: credential value too long',
    () => app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'a', password: 'p'.repeat(2000) } })),
    ['credentials', 'password'],
  ],
  [
    'create: scope with a control character',
    () => app.client.connections.create.mutate(connectionInput({ scopes: ['ok', 'bad\u0007'] })),
    ['scopes', 1],
  ],
  ['create: name too long', () => app.client.connections.create.mutate(connectionInput({ name: long })), ['name']],
  [
    'create: autoRefresh not a boolean',
    () => app.client.connections.create.mutate(connectionInput({ autoRefresh: 'yes' as never })),
    ['autoRefresh'],
  ],
  [
    'create: unknown field',
    () => app.client.connections.create.mutate({ ...connectionInput(), dataholder: 'AU00000' } as never),
    ['dataholder'],
  ],
  [
    'create: missing required credential',
    () => app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'x' } })),
    ['credentials', 'password'],
  ],
  // connections.update
  ['update: id not a uuid', () => app.client.connections.update.mutate({ id: 'abc', name: 'x' }), ['id']],
  ['update: name empty', () => app.client.connections.update.mutate({ id: idleId, name: '' }), ['name']],
  ['update: version 0', () => app.client.connections.update.mutate({ id: idleId, name: 'x', version: 0 }), ['version']],
  ['update: unknown dataset', () => app.client.connections.update.mutate({ id: idleId, datasets: ['NOPE' as never] }), ['datasets', 0]],
  [
    'update: interval above 30 days',
    () => app.client.connections.update.mutate({ id: idleId, refreshIntervalMinutes: 50_000 }),
    ['refreshIntervalMinutes'],
  ],
  [
    'update: unknown credential (valid shape)',
    () => app.client.connections.update.mutate({ id: idleId, credentials: { loginId: 'a', password: 'b', otp: '1' } }),
    ['credentials', 'otp'],
  ],
  ['update: unknown field', () => app.client.connections.update.mutate({ id: idleId, status: 'ACTIVE' } as never), ['status']],
  // connections.delete
  ['delete: id missing', () => app.client.connections.delete.mutate({} as never), ['id']],
  ['delete: id not a uuid', () => app.client.connections.delete.mutate({ id: "1' OR '1'='1" }), ['id']],
  // connections.deleteAll
  ['deleteAll: userId missing', () => app.client.connections.deleteAll.mutate({} as never), ['userId']],
  ['deleteAll: userId too long', () => app.client.connections.deleteAll.mutate({ userId: long }), ['userId']],
  // connections.refresh / refreshAll
  ['refresh: id not a uuid', () => app.client.connections.refresh.mutate({ id: 'nope' }), ['id']],
  ['refresh: unknown field', () => app.client.connections.refresh.mutate({ id: idleId, force: true } as never), ['force']],
  ['refreshAll: userId empty', () => app.client.connections.refreshAll.mutate({ userId: '' }), ['userId']],
  // jobs.answerChallenge
  ['answerChallenge: id not a uuid', () => app.client.jobs.answerChallenge.mutate({ id: 'x', response: '1' }), ['id']],
  [
    'answerChallenge: empty response',
    () => app.client.jobs.answerChallenge.mutate({ id: crypto.randomUUID(), response: '  ' }),
    ['response'],
  ],
  [
    'answerChallenge: response too long',
    () => app.client.jobs.answerChallenge.mutate({ id: crypto.randomUUID(), response: 'x'.repeat(2000) }),
    ['response'],
  ],
];

describe('bad input on every mutation', () => {
  it.each(cases)('%s → BAD_REQUEST at the field, nothing written', async (_name, call, path) => {
    const before = await fingerprint();
    const error = await rejection(call());
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.data?.httpStatus).toBe(400);
    expect(error.data?.issues?.map((i) => i.path)).toContainEqual(path);
    expect(error.message).toContain(path.length ? String(path[0]) : '');
    expect(await fingerprint()).toBe(before);
  });

  // Found by fuzzing: inputs zod let through that PostgreSQL then refused (a 500 that logged the whole SQL), and
  // inputs accepted and silently ignored.
  const forged = (json: unknown) => Buffer.from(JSON.stringify(json)).toString('base64url');
  const farPast = new Date(-8.64e15);
  const queryCases: Case[] = [
    [
      'transactions.list: from far before year 1',
      () => app.client.transactions.list.query({ connectionId: idleId, from: farPast }),
      ['from'],
    ],
    ['transactions.list: to far before year 1', () => app.client.transactions.list.query({ connectionId: idleId, to: farPast }), ['to']],
    ['events.list: since year -100000', () => app.client.events.list.query({ since: '-100000-01-01' as never }), ['since']],
    ['events.list: since null (not 1970)', () => app.client.events.list.query({ since: null as never }), ['since']],
    ['events.list: since an invalid date', () => app.client.events.list.query({ since: new Date(Number.NaN) }), ['since']],
    [
      'events.list: cursor past bigint',
      () => app.client.events.list.query({ cursor: Buffer.from('events:9999999999999999999').toString('base64url') }),
      ['cursor'],
    ],
    [
      'connections.list: cursor with a year -100000 date',
      () => app.client.connections.list.query({ cursor: forged(['-100000-01-01T00:00:00.000Z', idleId]) }),
      ['cursor'],
    ],
    [
      'transactions.list: cursor with a far-future date',
      () => app.client.transactions.list.query({ connectionId: idleId, cursor: forged(['+200000-01-01T00:00:00.000Z', idleId]) }),
      ['cursor'],
    ],
    ['accounts.list: neither connectionId nor userId', () => app.client.accounts.list.query({} as never), ['connectionId']],
    [
      'accounts.list: both connectionId and userId',
      () => app.client.accounts.list.query({ connectionId: idleId, userId: 'u' } as never),
      ['userId'],
    ],
    ['accounts.list: connectionId not a uuid', () => app.client.accounts.list.query({ connectionId: 'nope' }), ['connectionId']],
    ['transactions.list: neither accountId nor connectionId', () => app.client.transactions.list.query({} as never), ['accountId']],
    ['transactions.list: limit 0', () => app.client.transactions.list.query({ connectionId: idleId, limit: 0 }), ['limit']],
    ['notificationRules.list: an unknown field', () => app.client.notificationRules.list.query({ all: true } as never), ['all']],
    [
      'connections.list: a Map as filter',
      () => app.client.connections.list.query({ filter: new Map([['status', 'ACTIVE']]) as never }),
      ['filter'],
    ],
    ['connections.list: a Set as filter', () => app.client.connections.list.query({ filter: new Set(['ACTIVE']) as never }), ['filter']],
    ['connections.list: a Date as filter', () => app.client.connections.list.query({ filter: new Date() as never }), ['filter']],
    ['connections.list: a Map as the whole input', () => app.client.connections.list.query(new Map([['limit', 1]]) as never), []],
    ['events.list: a Date as the whole input', () => app.client.events.list.query(new Date() as never), []],
    [
      'connections.list: one bad status in a list',
      () => app.client.connections.list.query({ filter: { status: ['ACTIVE', 'LIVE' as never] } }),
      ['filter', 'status', 1],
    ],
  ];
  const moreMutations: Case[] = [
    [
      'webhooks.endpoints.create: url with a NUL byte',
      () => app.client.webhooks.endpoints.create.mutate({ url: 'http://127.0.0.1/\u0000x' }),
      ['url'],
    ],
    [
      'webhooks.endpoints.recover: since year -100000',
      () => app.client.webhooks.endpoints.recover.mutate({ id: idleId, since: '-100000-01-01' as never }),
      ['since'],
    ],
    ['connections.update: a Map as the whole input', () => app.client.connections.update.mutate(new Map([['id', idleId]]) as never), []],
  ];

  it.each(queryCases)('%s → BAD_REQUEST naming the field', async (_name, call, path) => {
    const error = await rejection(call());
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.data?.issues?.map((i) => i.path)).toContainEqual(path);
    expect(error.message).not.toMatch(/^Invalid input: \(input\): Invalid input$/);
  });

  it.each(moreMutations)('%s → BAD_REQUEST at the field, nothing written', async (_name, call, path) => {
    const before = await fingerprint();
    const error = await rejection(call());
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.data?.issues?.map((i) => i.path)).toContainEqual(path);
    expect(await fingerprint()).toBe(before);
  });

  it('60,000 unknown keys get a short answer: the first 20 issues and their count', async () => {
    const input: Record<string, unknown> = { userId: 'u', institutionId: 'AU00000' };
    for (let i = 0; i < 60_000; i++) input[`k${i}`] = 1;
    const res = await fetch(`${service.url}/trpc/connections.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ json: input }),
    });
    const body = await res.text();
    expect(res.status).toBe(400);
    expect(body.length).toBeLessThan(10_000);
    const { error } = JSON.parse(body) as {
      error: { json: { message: string; data: { issues: { path: string[] }[]; issueCount: number } } };
    };
    expect(error.json.data.issues).toHaveLength(20);
    expect(error.json.data.issueCount).toBe(60_000);
    expect(error.json.data.issues[0]!.path).toEqual(['k0']);
    expect(error.json.message).toMatch(/; and 59980 more$/);
  });

  it('a query with bad input is BAD_REQUEST too (not a 500)', async () => {
    for (const call of [
      () => app.client.connections.get.query({ id: 'not-a-uuid' }),
      () => app.client.institutions.get.query({ id: 'AU\u0000' }),
      () => app.client.institutions.list.query({ search: '\u0000' }),
      () => app.client.connections.list.query({ filter: { status: 'LIVE' as never } }),
      () => app.client.transactions.list.query({ connectionId: idleId, from: new Date('2026-02-01'), to: new Date('2026-01-01') }),
      () => app.client.transactions.list.query({ accountId: 'nope' }),
      () => app.client.accounts.list.query({ connectionId: idleId, userId: 'both' } as never),
      () => app.client.jobs.list.query({ connectionId: idleId, limit: 0 }),
    ]) {
      expect((await rejection(call())).data?.code).toBe('BAD_REQUEST');
    }
  });
});
