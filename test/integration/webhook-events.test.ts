import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import type { DeliveryWorker } from '../../src/webhooks/delivery.worker.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { runUntilSettled, startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// Every event type, produced by the real flows (API → job runner → sandbox provider), delivered over HTTP to a
// receiver that verifies each request with the standardwebhooks package.

const DAY = 86_400_000;
let service: TestService;
let clock: ManualClock;
let runner: JobRunner;
let worker: DeliveryWorker;
let app: TestApp;
let all: WebhookReceiver;
let connectionsOnly: WebhookReceiver;
let scoped: WebhookReceiver;

async function settle() {
  await runUntilSettled(service, runner, clock);
  await worker.drain();
}

beforeAll(async () => {
  clock = new ManualClock('2026-03-01T00:00:00.000Z');
  service = await startTestService({ clock });
  runner = service.runner();
  worker = service.deliveryWorker();
  app = await createTestApp(service);
  [all, connectionsOnly, scoped] = await Promise.all([startWebhookReceiver(), startWebhookReceiver(), startWebhookReceiver()]);
});

afterAll(async () => {
  await Promise.all([all?.close(), connectionsOnly?.close(), scoped?.close()]);
  await service?.close();
});

describe('events from the real flows', () => {
  it('delivers every event type, signed, with per-connection sequence numbers and filters honoured', async () => {
    const hooks = app.client.webhooks.endpoints;
    const a = await hooks.create.mutate({ url: all.url, description: 'everything' });
    all.secrets = [a.secret];
    expect(a.secret).toMatch(/^whsec_/);
    const c = await hooks.create.mutate({ url: connectionsOnly.url, eventTypes: ['connection.*', 'job.failed'] });
    connectionsOnly.secrets = [c.secret];

    // 1. A connection is created and imported: created, state/status changes, accounts, transactions, job.completed.
    const { connection } = await app.client.connections.create.mutate(
      connectionInput({ credentials: { loginId: 'hooks-user', password: 'pw' } }),
    );
    // An endpoint scoped to this connection only.
    const s = await hooks.create.mutate({ url: scoped.url, connectionIds: [connection.id] });
    scoped.secrets = [s.secret];
    await settle();

    // 2. Three days on, a refresh finds new transactions and moved balances.
    clock.advance(3 * DAY);
    await app.client.connections.refresh.mutate({ id: connection.id });
    await settle();

    // 3. Bad credentials: connection.error and job.failed; then good ones: connection.repaired.
    await app.client.connections.update.mutate({ id: connection.id, credentials: { loginId: 'hooks-user', password: 'wrong' } });
    await settle();
    await app.client.connections.update.mutate({ id: connection.id, credentials: { loginId: 'hooks-user', password: 'right' } });
    await settle();

    // 4. Multi-step authentication: job.challenge_required. 5. Revoked at the bank: status DISCONNECTED.
    const challenged = await app.client.connections.create.mutate(
      connectionInput({ credentials: { loginId: 'challenge', password: 'pw' } }),
    );
    const revoked = await app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'revoked', password: 'pw' } }));
    await settle();
    clock.advance(DAY);
    await app.client.connections.refresh.mutate({ id: revoked.connection.id });
    await settle();

    // 6. Deleted. 7. A test event.
    await app.client.connections.delete.mutate({ id: revoked.connection.id });
    const test = await hooks.test.mutate({ id: a.endpoint.id });
    expect(test).toMatchObject({ status: 'succeeded', statusCode: 204 });
    await worker.drain();

    const expected = [
      'connection.created',
      'connection.state_changed',
      'connection.status_changed',
      'connection.error',
      'connection.repaired',
      'connection.deleted',
      'job.completed',
      'job.failed',
      'job.challenge_required',
      'accounts.new',
      'account.balance_changed',
      'transactions.new',
      'webhook.test',
    ];
    await all.waitFor((got) => expected.every((t) => got.some((r) => r.type === t)));
    expect(
      all.received.every((r) => r.verified),
      all.received
        .filter((r) => !r.verified)
        .map((r) => r.problem)
        .join('; '),
    ).toBe(true);

    // What was delivered is what events.list holds, one delivery per event (no duplicates without a retry).
    const events = await listAllEvents(app);
    const streamed = events.filter((e) => e.type !== 'webhook.test' && !e.type.startsWith('notification.'));
    const toAll = all.received.map((r) => r.webhookId);
    expect(new Set(toAll).size).toBe(toAll.length);
    expect(new Set(toAll)).toEqual(new Set(events.map((e) => e.id)));
    for (const r of all.received) expect(r.json.id).toBe(r.webhookId);

    // Per-connection sequence: 1, 2, 3 … without gaps, in the order the changes happened (notifications and tests,
    // which go to one endpoint only, are not numbered).
    for (const id of [connection.id, challenged.connection.id, revoked.connection.id]) {
      const seq = streamed.filter((e) => e.connectionId === id).map((e) => e.sequence);
      expect(seq).toEqual(seq.map((_, i) => i + 1));
    }

    // The details a subscriber needs.
    const byType = (t: string) => streamed.filter((e) => e.type === t);
    expect(byType('connection.status_changed').map((e) => [e.data.previousStatus, e.data.status])).toEqual(
      expect.arrayContaining([
        ['INITIATED', 'ACTIVE'],
        ['ACTIVE', 'DISCONNECTED'],
      ]),
    );
    const error = byType('connection.error').find((e) => e.connectionId === connection.id)!;
    expect(error.data.error).toMatchObject({ code: expect.any(String) });
    expect(byType('connection.repaired')[0]!.data).toMatchObject({ failures: 1, connection: { id: connection.id, error: null } });
    const firstImport = byType('transactions.new').find((e) => e.connectionId === connection.id)!;
    const rows = await service.database.db.query(`SELECT count(*)::int AS n FROM transactions WHERE connection_id = $1`, [connection.id]);
    expect(
      (firstImport.data.count as number) +
        (byType('transactions.new').filter((e) => e.connectionId === connection.id)[1]!.data.count as number),
    ).toBe(rows[0].n);
    const accountsNew = byType('accounts.new').find((e) => e.connectionId === connection.id)!;
    expect(accountsNew.data.count).toBe(3);
    const balance = byType('account.balance_changed')[0]!;
    expect(balance.data).toMatchObject({ accountId: expect.any(String), balance: expect.any(String), previousBalance: expect.any(String) });
    expect(balance.data.balance).not.toBe(balance.data.previousBalance);
    expect(byType('job.challenge_required')[0]!.data).toMatchObject({
      job: { status: 'awaiting-challenge', challenge: { message: expect.any(String) } },
    });
    expect(byType('connection.deleted')[0]).toMatchObject({
      connectionId: revoked.connection.id,
      data: { connection: { id: revoked.connection.id } },
    });

    // Filters: the event-type filter and the connection filter.
    const filtered = connectionsOnly.received.map((r) => r.type);
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((t) => t.startsWith('connection.') || t === 'job.failed')).toBe(true);
    expect(filtered).toContain('job.failed');
    expect(new Set(filtered).size).toBeGreaterThan(3);
    expect(scoped.received.length).toBeGreaterThan(0);
    expect(scoped.received.every((r) => r.json.connectionId === connection.id)).toBe(true);
    expect(scoped.received.every((r) => r.verified)).toBe(true);
  });

  it('events.list filters by type, connection and time, and pages without gaps', async () => {
    const everything = await listAllEvents(app);
    const first = everything[0]!;
    const byConnection = await app.client.events.list.query({ connectionId: first.connectionId!, limit: 500 });
    expect(byConnection.items.every((e) => e.connectionId === first.connectionId)).toBe(true);
    const types = await app.client.events.list.query({ types: ['job.completed', 'job.failed'], limit: 500 });
    expect(types.items.length).toBeGreaterThan(0);
    expect(types.items.every((e) => e.type === 'job.completed' || e.type === 'job.failed')).toBe(true);
    const late = everything.at(-1)!.occurredAt;
    const since = await app.client.events.list.query({ since: late, limit: 500 });
    expect(since.items.every((e) => e.occurredAt.getTime() >= late.getTime())).toBe(true);
    expect(since.items.length).toBeLessThan(everything.length);
    // Another app sees none of it.
    const other = await createTestApp(service);
    expect((await other.client.events.list.query({})).items).toEqual([]);
  });
});

async function listAllEvents(app: TestApp) {
  const out: Awaited<ReturnType<TestApp['client']['events']['list']['query']>>['items'] = [];
  let cursor: string | undefined;
  let hasMore = true;
  while (hasMore) {
    const page = await app.client.events.list.query({ cursor, limit: 7 });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
    hasMore = page.hasMore;
  }
  // Polling on from the last cursor finds nothing new, and hands the same cursor back.
  const again = await app.client.events.list.query({ cursor, limit: 7 });
  expect(again).toEqual({ items: [], nextCursor: cursor, hasMore: false });
  return out as ((typeof out)[number] & { data: Record<string, any> })[];
}
