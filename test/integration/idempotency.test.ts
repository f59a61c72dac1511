import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { connectionInput, createTestApp, settleJobs, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// Idempotency-Key on mutations, through real HTTP: a replay answers the first answer without doing the work
// again, concurrent calls with one key run it once, a key reused for another request is CONFLICT, keys are per app.

const clock = new ManualClock(new Date());
let service: TestService;
let app: TestApp;

beforeAll(async () => {
  service = await startTestService({ clock });
  app = await createTestApp(service);
});
afterAll(() => service.close());

const withKey = (idempotencyKey: string) => ({ context: { idempotencyKey } });
const count = async (table: string, appId = app.id) =>
  (await service.database.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE app_id = $1`, [appId]))[0].n as number;

/** A mutation over raw HTTP, to see the response headers. */
async function post(path: string, input: unknown, headers: Record<string, string>, apiKey = app.apiKey) {
  const res = await fetch(`${service.url}/trpc/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ json: input }),
  });
  return {
    status: res.status,
    replayed: res.headers.get('idempotent-replayed'),
    body: (await res.json()) as { result?: { data: { json: any } }; error?: { json: any } },
  };
}

describe('Idempotency-Key', () => {
  it('the same key and input answers the first answer again, marked as a replay, and does the work once', async () => {
    const key = randomUUID();
    const input = connectionInput();
    const before = await count('connections');
    const first = await app.client.connections.create.mutate(input, withKey(key));
    const again = await app.client.connections.create.mutate(input, withKey(key));
    expect(again).toEqual(first);
    expect(again.connection.createdAt).toBeInstanceOf(Date); // Dates stay Dates on replay
    expect(await count('connections')).toBe(before + 1);
    const raw = await post('connections.create', input, { 'idempotency-key': key });
    expect(raw.status).toBe(200);
    expect(raw.replayed).toBe('true');
    expect(raw.body.result!.data.json.connection.id).toBe(first.connection.id);
    // Without a key, or with another, the work is done again.
    const fresh = await post('connections.create', { ...input, userId: `${input.userId}-2` }, { 'idempotency-key': randomUUID() });
    expect(fresh.replayed).toBeNull();
    expect(await count('connections')).toBe(before + 2);
  });

  it('the same key with another input is CONFLICT, and nothing is written', async () => {
    const key = randomUUID();
    await app.client.connections.create.mutate(connectionInput(), withKey(key));
    const before = await count('connections');
    const error = await rejection(app.client.connections.create.mutate(connectionInput(), withKey(key)));
    expect(error.data?.code).toBe('CONFLICT');
    expect(error.message).toContain('another request');
    // Or the same key on another procedure.
    expect((await rejection(app.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/h' }, withKey(key)))).data?.code).toBe(
      'CONFLICT',
    );
    expect(await count('connections')).toBe(before);
  });

  it('ten concurrent calls with one key run the work once and all get its answer', async () => {
    const key = randomUUID();
    const input = connectionInput();
    const before = await count('connections');
    const answers = await Promise.all(Array.from({ length: 10 }, () => app.client.connections.create.mutate(input, withKey(key))));
    expect(new Set(answers.map((a) => a.connection.id)).size).toBe(1);
    expect(await count('connections')).toBe(before + 1);
    expect(await count('events')).toBeGreaterThan(0);
  });

  it('keys are per app: another app with the same key does its own work', async () => {
    const other = await createTestApp(service);
    const key = randomUUID();
    const mine = await app.client.connections.create.mutate(connectionInput(), withKey(key));
    const theirs = await other.client.connections.create.mutate(connectionInput(), withKey(key));
    expect(theirs.connection.id).not.toBe(mine.connection.id);
    expect(theirs.connection.appId).toBe(other.id);
  });

  it('a call that failed is forgotten: the same key may be used again', async () => {
    const key = randomUUID();
    const { connection } = await app.client.connections.create.mutate(connectionInput());
    // Busy (its create job is queued): CONFLICT, not remembered.
    expect((await rejection(app.client.connections.delete.mutate({ id: connection.id }, withKey(key)))).data?.code).toBe('CONFLICT');
    await settleJobs(service, [connection.id]);
    expect(await app.client.connections.delete.mutate({ id: connection.id }, withKey(key))).toEqual({ id: connection.id });
    // And now it is remembered: deleting again with the key replays, instead of NOT_FOUND.
    expect(await app.client.connections.delete.mutate({ id: connection.id }, withKey(key))).toEqual({ id: connection.id });
  });

  it('a key is remembered for 24 hours', async () => {
    const key = randomUUID();
    const input = connectionInput();
    const first = await app.client.connections.create.mutate(input, withKey(key));
    clock.advance(23 * 3_600_000);
    expect((await app.client.connections.create.mutate(input, withKey(key))).connection.id).toBe(first.connection.id);
    clock.advance(2 * 3_600_000);
    expect((await app.client.connections.create.mutate(input, withKey(key))).connection.id).not.toBe(first.connection.id);
  });

  it('a malformed key, or one on a batch of several calls, is BAD_REQUEST naming the header', async () => {
    for (const bad of ['x'.repeat(256), 'tab\there']) {
      const res = await post('connections.create', connectionInput(), { 'idempotency-key': bad });
      expect(res.status).toBe(400);
      expect(res.body.error!.json.data.issues[0].path).toEqual(['Idempotency-Key']);
    }
    const batch = await fetch(`${service.url}/trpc/connections.create,connections.create?batch=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.apiKey}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ 0: { json: connectionInput() }, 1: { json: connectionInput() } }),
    });
    const answers = (await batch.json()) as { error?: { json: { data: { issues: { path: string[] }[] } } } }[];
    expect(answers.map((a) => a.error?.json.data.issues[0]?.path)).toEqual([['Idempotency-Key'], ['Idempotency-Key']]);
  });

  it('every mutation honours it: a second call with the key is a replay', async () => {
    const settled = (await app.client.connections.create.mutate(connectionInput())).connection;
    await settleJobs(service, [settled.id]);
    const { endpoint } = await app.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/every' });
    const rule = await app.client.notificationRules.create.mutate({ triggerEvent: 'CONNECTION_STATUS_CHANGED', endpointId: endpoint.id });
    const challenged = await app.client.connections.create.mutate(
      connectionInput({ credentials: { loginId: 'challenge', password: 'pw' } }),
    );
    await service.runner().drain();
    const [delivery] = (await app.client.webhooks.deliveries.list.query({ endpointId: endpoint.id, limit: 1 })).items;
    const extraUser = `every-${randomUUID()}`;
    await app.client.connections.create.mutate(connectionInput({ userId: extraUser }));
    await service.database.db.query(`UPDATE jobs SET status = 'succeeded' WHERE app_id = $1 AND status = 'queued'`, [app.id]);

    const calls: [path: string, input: unknown][] = [
      ['connections.create', connectionInput()],
      ['connections.update', { id: settled.id, name: 'Renamed' }],
      ['connections.refresh', { id: settled.id }],
      ['connections.refreshAll', { userId: settled.userId }],
      ['jobs.answerChallenge', { id: challenged.job!.id, response: '123456' }],
      ['webhooks.endpoints.create', { url: 'https://example.com/another' }],
      ['webhooks.endpoints.update', { id: endpoint.id, description: 'x' }],
      ['webhooks.endpoints.rotateSecret', { id: endpoint.id }],
      ['webhooks.endpoints.test', { id: endpoint.id }],
      ['webhooks.endpoints.recover', { id: endpoint.id, since: new Date(0).toISOString() }],
      ['webhooks.deliveries.resend', { id: delivery?.id ?? randomUUID() }],
      ['notificationRules.create', { triggerEvent: 'BANK_LOGIN_ERROR', endpointId: endpoint.id }],
      ['notificationRules.update', { id: rule.id, includeDetails: false }],
      ['notificationRules.delete', { id: rule.id }],
      ['connections.deleteAll', { userId: extraUser }],
      ['webhooks.endpoints.delete', { id: endpoint.id }],
    ];
    for (const [path, input] of calls) {
      const key = randomUUID();
      const first = await post(path, input, { 'idempotency-key': key });
      const second = await post(path, input, { 'idempotency-key': key });
      expect([path, second.status, second.replayed], JSON.stringify(first.body.error ?? '')).toEqual([path, 200, 'true']);
      expect(second.body.result).toEqual(first.body.result);
    }
  });
});
