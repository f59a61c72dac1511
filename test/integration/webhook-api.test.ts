import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryWorker } from '../../src/webhooks/delivery.worker.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// The webhooks API as a client uses it: endpoints and their secrets, deliveries, and what another app or bad input
// can do to them (nothing). Requests go over real HTTP to receivers that verify them with the standardwebhooks package.
// The service runs on the system clock: signatures are stamped with wall-clock time, and a rotated secret's overlap is
// measured against it.

let service: TestService;
let worker: DeliveryWorker;
let receiver: WebhookReceiver;

beforeAll(async () => {
  service = await startTestService();
  worker = service.deliveryWorker();
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await receiver?.close();
  await service?.close();
});

/** Every key anywhere in a JSON value. */
const keysDeep = (v: unknown): string[] =>
  Array.isArray(v)
    ? v.flatMap(keysDeep)
    : v && typeof v === 'object' && !(v instanceof Date)
      ? Object.entries(v).flatMap(([k, x]) => [k, ...keysDeep(x)])
      : [];

/** No secret in an answer: no whsec_ value, and no key naming a secret but the rotation's expiry time. */
function expectNoSecret(answer: unknown): void {
  expect(JSON.stringify(answer)).not.toContain('whsec_');
  expect(keysDeep(answer).filter((k) => /secret/i.test(k) && k !== 'previousSecretExpiresAt')).toEqual([]);
}

/** The raw body of a query over HTTP, as any client (not only ours) would read it. */
async function rawQuery(apiKey: string, path: string, input: unknown): Promise<string> {
  const query = encodeURIComponent(JSON.stringify({ json: input }));
  const response = await fetch(`${service.url}/trpc/${path}?input=${query}`, { headers: { authorization: `Bearer ${apiKey}` } });
  expect(response.status).toBe(200);
  return response.text();
}

const headersOf = (r: ReceivedWebhook) => ({
  'webhook-id': r.webhookId,
  'webhook-timestamp': r.timestamp,
  'webhook-signature': r.signature,
});
/** Whether this one secret, alone, verifies a request that arrived (with the standardwebhooks library). */
function verifiesWith(secret: string, r: ReceivedWebhook): boolean {
  try {
    new Webhook(secret).verify(r.body, headersOf(r));
    return true;
  } catch {
    return false;
  }
}
const unrelatedSecret = () => `whsec_${Buffer.from(randomUUID()).toString('base64')}`;

describe('endpoints', () => {
  let app: TestApp;
  let moved: WebhookReceiver;
  beforeAll(async () => {
    app = await createTestApp(service);
    moved = await startWebhookReceiver();
  });
  afterAll(() => moved?.close());

  /** Creates an endpoint whose deliveries both receivers accept (later tests' drains may deliver to it). */
  async function subscribe(input: Parameters<typeof app.client.webhooks.endpoints.create.mutate>[0]) {
    const created = await app.client.webhooks.endpoints.create.mutate(input);
    receiver.secrets.push(created.secret);
    moved.secrets.push(created.secret);
    return created;
  }

  it('create answers the secret once; get and list never show it, nor store it in clear', async () => {
    const created = await subscribe({ url: receiver.url, description: 'crud' });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expectNoSecret(created.endpoint);
    expect(created.endpoint).toMatchObject({
      url: receiver.url,
      description: 'crud',
      eventTypes: null,
      connectionIds: null,
      enabled: true,
      disabledReason: null,
      failingSince: null,
      lastSuccessAt: null,
      previousSecretExpiresAt: null,
    });
    const id = created.endpoint.id;
    expect(await app.client.webhooks.endpoints.get.query({ id })).toEqual(created.endpoint);
    expectNoSecret(await app.client.webhooks.endpoints.get.query({ id }));
    expectNoSecret(await app.client.webhooks.endpoints.list.query());
    for (const [path, input] of [
      ['webhooks.endpoints.get', { id }],
      ['webhooks.endpoints.list', {}],
    ] as const) {
      const raw = await rawQuery(app.apiKey, path, input);
      expect(raw).toContain(id);
      expect(raw).not.toContain('whsec_');
      expect((raw.match(/"[^"]*secret[^"]*"\s*:/gi) ?? []).filter((k) => !k.startsWith('"previousSecretExpiresAt"'))).toEqual([]);
    }
    // Stored encrypted: neither the secret nor its key material appears in the row.
    const [row] = await service.database.db.query(
      `SELECT position(convert_to($2, 'UTF8') IN secret_ciphertext) AS whole, position(decode($3, 'base64') IN secret_ciphertext) AS key
       FROM webhook_endpoints WHERE id = $1`,
      [id, created.secret, created.secret.slice('whsec_'.length)],
    );
    expect(row).toEqual({ whole: 0, key: 0 });
  });

  it('update changes url, description, event types, connection filter and enabled, and fan-out follows', async () => {
    const { endpoint } = await subscribe({ url: receiver.url });
    const { connection } = await app.client.connections.create.mutate(connectionInput());
    const deliveredTo = async () => (await app.client.webhooks.deliveries.list.query({ endpointId: endpoint.id })).items.length;
    expect(await deliveredTo()).toBe(1); // connection.created, before any filter

    const filtered = await app.client.webhooks.endpoints.update.mutate({
      id: endpoint.id,
      url: moved.url,
      description: 'changed',
      eventTypes: ['job.*', 'connection.deleted'],
      connectionIds: [connection.id],
    });
    expect(filtered).toMatchObject({
      id: endpoint.id,
      url: moved.url,
      description: 'changed',
      eventTypes: ['job.*', 'connection.deleted'],
      connectionIds: [connection.id],
      enabled: true,
    });
    expectNoSecret(filtered);
    // connection.created is not among the types any more: a new connection queues nothing for it.
    await app.client.connections.create.mutate(connectionInput());
    expect(await deliveredTo()).toBe(1);

    const disabled = await app.client.webhooks.endpoints.update.mutate({
      id: endpoint.id,
      enabled: false,
      eventTypes: null,
      connectionIds: null,
    });
    expect(disabled).toMatchObject({
      enabled: false,
      disabledReason: 'disabled by the app',
      eventTypes: null,
      connectionIds: null,
      description: 'changed',
    });
    await app.client.connections.create.mutate(connectionInput());
    expect(await deliveredTo()).toBe(1); // disabled: nothing queued

    const enabled = await app.client.webhooks.endpoints.update.mutate({ id: endpoint.id, enabled: true, description: null });
    expect(enabled).toMatchObject({ enabled: true, disabledReason: null, failingSince: null, description: null, url: moved.url });
    const { connection: last } = await app.client.connections.create.mutate(connectionInput());
    expect(await deliveredTo()).toBe(2);
    expect(await app.client.webhooks.endpoints.get.query({ id: endpoint.id })).toEqual(enabled);
    // Deliveries go to the url the endpoint has when they are sent.
    await worker.drain();
    expect(moved.received.filter((r) => r.verified && r.json.connectionId === last.id).map((r) => r.type)).toEqual(['connection.created']);
  });

  it('delete removes the endpoint, its deliveries and the rules that send to it', async () => {
    const { endpoint } = await subscribe({ url: receiver.url, eventTypes: ['webhook.test'] });
    const rule = await app.client.notificationRules.create.mutate({ triggerEvent: 'BANK_LOGIN_ERROR', endpointId: endpoint.id });
    const sent = await app.client.webhooks.endpoints.test.mutate({ id: endpoint.id });
    expect(sent).toMatchObject({ status: 'succeeded', statusCode: 204 });
    expect((await app.client.webhooks.deliveries.list.query({ eventId: sent.eventId })).items).toHaveLength(1);

    expect(await app.client.webhooks.endpoints.delete.mutate({ id: endpoint.id })).toEqual({ id: endpoint.id });
    const id = endpoint.id;
    for (const call of [
      () => app.client.webhooks.endpoints.get.query({ id }),
      () => app.client.webhooks.endpoints.delete.mutate({ id }),
      () => app.client.webhooks.endpoints.update.mutate({ id, enabled: false }),
      () => app.client.webhooks.endpoints.rotateSecret.mutate({ id }),
      () => app.client.webhooks.endpoints.test.mutate({ id }),
      () => app.client.notificationRules.get.query({ id: rule.id }),
    ]) {
      expect((await rejection(call())).data?.code).toBe('NOT_FOUND');
    }
    expect((await app.client.webhooks.deliveries.list.query({ eventId: sent.eventId })).items).toEqual([]);
    expect((await app.client.webhooks.endpoints.list.query()).items.map((e) => e.id)).not.toContain(id);
  });

  it('list pages with a cursor, oldest first, without gaps or repeats', async () => {
    const own = await createTestApp(service);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await own.client.webhooks.endpoints.create.mutate({ url: `https://example.com/hook/${i}` })).endpoint.id);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await own.client.webhooks.endpoints.list.query({ limit: 2, cursor });
      expectNoSecret(page);
      pages.push(page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(ids);
    expect((await own.client.webhooks.endpoints.list.query()).items.map((e) => e.id)).toEqual(ids);
  });
});

describe('rotateSecret', () => {
  it('answers a new secret; during the overlap both sign, and a receiver holding either one verifies', async () => {
    const app = await createTestApp(service);
    const rotating = await startWebhookReceiver();
    try {
      const created = await app.client.webhooks.endpoints.create.mutate({
        url: rotating.url,
        eventTypes: ['webhook.test', 'connection.created'],
      });
      const oldSecret = created.secret;
      const before = Date.now();
      const rotated = await app.client.webhooks.endpoints.rotateSecret.mutate({ id: created.endpoint.id });
      const newSecret = rotated.secret;
      expect(newSecret).toMatch(/^whsec_/);
      expect(newSecret).not.toBe(oldSecret);
      expectNoSecret(rotated.endpoint);
      // The default overlap is a day.
      const expires = rotated.endpoint.previousSecretExpiresAt!.getTime();
      expect(expires).toBeGreaterThanOrEqual(before + 86_400_000 - 1_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 86_400_000 + 1_000);
      expect(await app.client.webhooks.endpoints.get.query({ id: created.endpoint.id })).toEqual(rotated.endpoint);

      // A subscriber that has not switched yet (old secret only) accepts the next delivery ...
      rotating.secrets = [oldSecret];
      expect(await app.client.webhooks.endpoints.test.mutate({ id: created.endpoint.id })).toMatchObject({
        status: 'succeeded',
        statusCode: 204,
      });
      // ... and so does one that has (new secret only).
      rotating.secrets = [newSecret];
      expect(await app.client.webhooks.endpoints.test.mutate({ id: created.endpoint.id })).toMatchObject({
        status: 'succeeded',
        statusCode: 204,
      });
      // A delivery by the worker, of a real event, carries both signatures too.
      rotating.secrets = [oldSecret];
      await app.client.connections.create.mutate(connectionInput());
      await worker.drain();

      expect(rotating.received.map((r) => [r.type, r.verified])).toEqual([
        ['webhook.test', true],
        ['webhook.test', true],
        ['connection.created', true],
      ]);
      for (const r of rotating.received) {
        const signatures = r.signature.split(' ');
        expect(signatures).toHaveLength(2);
        expect(signatures.every((s) => /^v1,[A-Za-z0-9+/]+=*$/.test(s))).toBe(true);
        expect(verifiesWith(oldSecret, r)).toBe(true);
        expect(verifiesWith(newSecret, r)).toBe(true);
        expect(verifiesWith(unrelatedSecret(), r)).toBe(false);
      }
    } finally {
      await rotating.close();
    }
  });

  it('after the overlap only the new secret signs', async () => {
    const noOverlap = await startTestService({ webhooks: { secretOverlapMs: 0 } });
    const rotating = await startWebhookReceiver();
    try {
      const app = await createTestApp(noOverlap);
      const created = await app.client.webhooks.endpoints.create.mutate({ url: rotating.url });
      const rotated = await app.client.webhooks.endpoints.rotateSecret.mutate({ id: created.endpoint.id });
      expect(rotated.endpoint.previousSecretExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now());
      rotating.secrets = [created.secret, rotated.secret];
      expect(await app.client.webhooks.endpoints.test.mutate({ id: created.endpoint.id })).toMatchObject({
        status: 'succeeded',
        statusCode: 204,
      });
      const [r] = rotating.received;
      expect(r!.verified).toBe(true);
      expect(r!.signature.split(' ')).toHaveLength(1);
      expect(verifiesWith(rotated.secret, r!)).toBe(true);
      expect(verifiesWith(created.secret, r!)).toBe(false);
    } finally {
      await rotating.close();
      await noOverlap.close();
    }
  });
});

describe('deliveries.list', () => {
  it('filters by endpoint, event and status, and shows each attempt oldest first', async () => {
    const app = await createTestApp(service);
    const [ok, failing] = await Promise.all([startWebhookReceiver(), startWebhookReceiver()]);
    try {
      const good = await app.client.webhooks.endpoints.create.mutate({ url: ok.url });
      const bad = await app.client.webhooks.endpoints.create.mutate({ url: failing.url });
      ok.secrets = [good.secret];
      failing.secrets = [bad.secret];
      failing.respond = () => ({ status: 500 });

      const { connection } = await app.client.connections.create.mutate(connectionInput());
      const test = await app.client.webhooks.endpoints.test.mutate({ id: good.endpoint.id });
      await worker.drain();
      const [created] = (await app.client.events.list.query({ types: ['connection.created'], connectionId: connection.id })).items;

      // By event: one delivery per endpoint.
      const forEvent = (await app.client.webhooks.deliveries.list.query({ eventId: created!.id })).items;
      expect(forEvent.map((d) => d.endpointId).sort()).toEqual([good.endpoint.id, bad.endpoint.id].sort());
      expect(forEvent.every((d) => d.eventId === created!.id)).toBe(true);

      // By endpoint: the good one has the event and the test, delivered at the first attempt.
      const toGood = (await app.client.webhooks.deliveries.list.query({ endpointId: good.endpoint.id })).items;
      expect(toGood.map((d) => d.eventId).sort()).toEqual([created!.id, test.eventId].sort());
      for (const d of toGood) {
        expect(d).toMatchObject({
          endpointId: good.endpoint.id,
          status: 'succeeded',
          attempts: 1,
          lastStatusCode: 204,
          lastError: null,
          nextAttemptAt: null,
        });
        expect(d.deliveredAt).toBeInstanceOf(Date);
        expect(d.attemptLog).toEqual([{ attemptedAt: expect.any(Date), statusCode: 204, error: null, latencyMs: expect.any(Number) }]);
      }

      // The failing one waits for its retry, with the failed attempt on record.
      const [toBad, ...moreBad] = (await app.client.webhooks.deliveries.list.query({ endpointId: bad.endpoint.id })).items;
      expect(moreBad).toEqual([]);
      expect(toBad).toMatchObject({
        eventId: created!.id,
        status: 'pending',
        attempts: 1,
        lastStatusCode: 500,
        lastError: 'HTTP 500',
        deliveredAt: null,
      });
      expect(toBad!.nextAttemptAt).toBeInstanceOf(Date);
      expect(toBad!.attemptLog).toEqual([
        { attemptedAt: expect.any(Date), statusCode: 500, error: 'HTTP 500', latencyMs: expect.any(Number) },
      ]);

      // By status, alone and with an endpoint.
      const ids = async (input: Parameters<typeof app.client.webhooks.deliveries.list.query>[0]) =>
        (await app.client.webhooks.deliveries.list.query(input)).items.map((d) => d.id).sort();
      expect(await ids({ status: 'succeeded' })).toEqual(toGood.map((d) => d.id).sort());
      expect(await ids({ status: 'pending' })).toEqual([toBad!.id]);
      expect(await ids({ status: 'dead' })).toEqual([]);
      expect(await ids({ endpointId: bad.endpoint.id, status: 'succeeded' })).toEqual([]);
      expect(await ids({ endpointId: good.endpoint.id, eventId: created!.id })).toEqual(
        forEvent.filter((d) => d.endpointId === good.endpoint.id).map((d) => d.id),
      );

      // The receiver recovers; the retry (due 200 ms later) succeeds and joins the log.
      failing.respond = () => ({ status: 204 });
      await new Promise((r) => setTimeout(r, 300));
      await worker.drain();
      const [retried] = (await app.client.webhooks.deliveries.list.query({ endpointId: bad.endpoint.id })).items;
      expect(retried).toMatchObject({ id: toBad!.id, status: 'succeeded', attempts: 2, lastStatusCode: 204, lastError: null });
      expect(retried!.attemptLog.map((a) => [a.statusCode, a.error])).toEqual([
        [500, 'HTTP 500'],
        [204, null],
      ]);
      expect(retried!.attemptLog[0]!.attemptedAt.getTime()).toBeLessThanOrEqual(retried!.attemptLog[1]!.attemptedAt.getTime());
      expect(failing.received.filter((r) => r.verified).map((r) => r.webhookId)).toEqual([created!.id, created!.id]);

      // Pages of one, all of them, once each.
      const paged: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await app.client.webhooks.deliveries.list.query({ limit: 1, cursor });
        paged.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor && paged.length < 10);
      expect(paged.sort()).toEqual([...toGood.map((d) => d.id), toBad!.id].sort());
    } finally {
      await Promise.all([ok.close(), failing.close()]);
    }
  });
});

describe('tenant isolation', () => {
  let owner: TestApp;
  let intruder: TestApp;
  let ownerReceiver: WebhookReceiver;
  let endpointId: string;
  let ruleId: string;
  let deliveryId: string;
  let eventId: string;
  let connectionId: string;

  beforeAll(async () => {
    owner = await createTestApp(service);
    intruder = await createTestApp(service);
    ownerReceiver = await startWebhookReceiver();
    const created = await owner.client.webhooks.endpoints.create.mutate({ url: ownerReceiver.url });
    ownerReceiver.secrets = [created.secret];
    endpointId = created.endpoint.id;
    connectionId = (await owner.client.connections.create.mutate(connectionInput())).connection.id;
    ruleId = (
      await owner.client.notificationRules.create.mutate({ triggerEvent: 'NEW_TRANSACTIONS', endpointId, connectionIds: [connectionId] })
    ).id;
    await worker.drain();
    const [delivery] = (await owner.client.webhooks.deliveries.list.query({ endpointId })).items;
    deliveryId = delivery!.id;
    eventId = delivery!.eventId;
  });
  afterAll(() => ownerReceiver?.close());

  /** Everything of the owner's that a webhook procedure could change. */
  async function ownerFingerprint(): Promise<string> {
    const [row] = await service.database.db.query(
      `SELECT (SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY e.id), '')) FROM webhook_endpoints e WHERE app_id = $1) AS endpoints,
              (SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r.id), '')) FROM notification_rules r WHERE app_id = $1) AS rules,
              (SELECT md5(coalesce(string_agg(d::text, '|' ORDER BY d.id), '')) FROM webhook_deliveries d WHERE app_id = $1) AS deliveries,
              (SELECT md5(coalesce(string_agg(a::text, '|' ORDER BY a.id), '')) FROM webhook_delivery_attempts a
                 JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.app_id = $1) AS attempts,
              (SELECT md5(coalesce(string_agg(v::text, '|' ORDER BY v.id), '')) FROM events v WHERE app_id = $1) AS events`,
      [owner.id],
    );
    return JSON.stringify(row);
  }

  it("every procedure on another app's ids: NOT_FOUND, and nothing of the owner's changes or is sent", async () => {
    const before = await ownerFingerprint();
    const sentBefore = ownerReceiver.received.length;
    const c = intruder.client;
    const calls: [string, () => Promise<unknown>][] = [
      ['endpoints.get', () => c.webhooks.endpoints.get.query({ id: endpointId })],
      ['endpoints.update', () => c.webhooks.endpoints.update.mutate({ id: endpointId, url: 'https://example.com/stolen', enabled: false })],
      ['endpoints.delete', () => c.webhooks.endpoints.delete.mutate({ id: endpointId })],
      ['endpoints.rotateSecret', () => c.webhooks.endpoints.rotateSecret.mutate({ id: endpointId })],
      ['endpoints.test', () => c.webhooks.endpoints.test.mutate({ id: endpointId })],
      ['endpoints.recover', () => c.webhooks.endpoints.recover.mutate({ id: endpointId, since: new Date(0) })],
      ['deliveries.resend', () => c.webhooks.deliveries.resend.mutate({ id: deliveryId })],
      ['notificationRules.get', () => c.notificationRules.get.query({ id: ruleId })],
      ['notificationRules.update', () => c.notificationRules.update.mutate({ id: ruleId, includeDetails: false })],
      ['notificationRules.delete', () => c.notificationRules.delete.mutate({ id: ruleId })],
    ];
    for (const [name, call] of calls) {
      expect([name, (await rejection(call())).data?.code]).toEqual([name, 'NOT_FOUND']);
    }
    // Lists: empty, whatever the filter names.
    expect((await c.webhooks.endpoints.list.query()).items).toEqual([]);
    expect((await c.webhooks.deliveries.list.query({})).items).toEqual([]);
    expect((await c.webhooks.deliveries.list.query({ endpointId })).items).toEqual([]);
    expect((await c.webhooks.deliveries.list.query({ eventId })).items).toEqual([]);
    expect((await c.webhooks.deliveries.list.query({ status: 'succeeded' })).items).toEqual([]);
    expect(await c.notificationRules.list.query()).toEqual([]);
    expect((await c.events.list.query({})).items).toEqual([]);
    expect((await c.events.list.query({ connectionId })).items).toEqual([]);
    expect((await c.events.list.query({ types: ['connection.created', 'webhook.test'] })).items).toEqual([]);

    expect(await ownerFingerprint()).toBe(before);
    expect(ownerReceiver.received.length).toBe(sentBefore);
    // The owner still sees all of it.
    expect((await owner.client.webhooks.endpoints.get.query({ id: endpointId })).enabled).toBe(true);
    expect((await owner.client.notificationRules.get.query({ id: ruleId })).includeDetails).toBe(true);
    expect((await owner.client.webhooks.deliveries.list.query({ eventId })).items.map((d) => d.id)).toEqual([deliveryId]);
  });

  it("rules and endpoints cannot point at another app's endpoint or connections (NOT_FOUND at the field, as if missing)", async () => {
    const own = await intruder.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/intruder' });
    const e1 = await rejection(intruder.client.notificationRules.create.mutate({ triggerEvent: 'NEW_TRANSACTIONS', endpointId }));
    expect([e1.data?.code, e1.data?.issues?.map((i) => i.path)]).toEqual(['NOT_FOUND', [['endpointId']]]);
    const e2 = await rejection(
      intruder.client.notificationRules.create.mutate({
        triggerEvent: 'NEW_TRANSACTIONS',
        endpointId: own.endpoint.id,
        connectionIds: [connectionId],
      }),
    );
    expect([e2.data?.code, e2.data?.issues?.map((i) => i.path)]).toEqual(['NOT_FOUND', [['connectionIds', 0]]]);
    // An endpoint filtered on another app's connection is refused the same way, on create and on update.
    const e4 = await rejection(
      intruder.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/x', connectionIds: [connectionId] }),
    );
    expect([e4.data?.code, e4.data?.issues?.map((i) => i.path)]).toEqual(['NOT_FOUND', [['connectionIds', 0]]]);
    const e5 = await rejection(intruder.client.webhooks.endpoints.update.mutate({ id: own.endpoint.id, connectionIds: [connectionId] }));
    expect([e5.data?.code, e5.data?.issues?.map((i) => i.path)]).toEqual(['NOT_FOUND', [['connectionIds', 0]]]);
    expect((await intruder.client.webhooks.endpoints.get.query({ id: own.endpoint.id })).connectionIds).toBeNull();
    // Not found and another app's look the same.
    const e3 = await rejection(
      intruder.client.notificationRules.create.mutate({ triggerEvent: 'NEW_TRANSACTIONS', endpointId: randomUUID() }),
    );
    expect(e3.message.replace(/[0-9a-f-]{36}/g, 'ID')).toBe(e1.message.replace(/[0-9a-f-]{36}/g, 'ID'));
    expect(await intruder.client.notificationRules.list.query()).toEqual([]);
  });

  it("an endpoint filtered on another app's connection receives none of that connection's events", async () => {
    const spy = await startWebhookReceiver();
    try {
      // The API refuses such a filter (above); one written before that check existed must still receive nothing.
      const spyEndpoint = await intruder.client.webhooks.endpoints.create.mutate({ url: spy.url, eventTypes: ['webhook.test'] });
      await service.database.db.query(`UPDATE webhook_endpoints SET connection_ids = $2, event_types = NULL WHERE id = $1`, [
        spyEndpoint.endpoint.id,
        [connectionId],
      ]);
      spy.secrets = [spyEndpoint.secret];
      // The owner's connection is imported for real: state changes, accounts, transactions, job.completed.
      await service.runner().drain();
      await worker.drain();
      const types = new Set((await owner.client.events.list.query({ connectionId, limit: 500 })).items.map((e) => e.type));
      expect([...types]).toEqual(
        expect.arrayContaining(['connection.status_changed', 'accounts.new', 'transactions.new', 'job.completed']),
      );
      expect(spy.received).toEqual([]);
      expect((await intruder.client.webhooks.deliveries.list.query({ endpointId: spyEndpoint.endpoint.id })).items).toEqual([]);
    } finally {
      await spy.close();
    }
  });

  it('without a valid API key every webhook procedure is UNAUTHORIZED', async () => {
    for (const client of [service.client(), service.client('csk_' + 'x'.repeat(43))]) {
      for (const call of [
        () => client.webhooks.endpoints.list.query(),
        () => client.webhooks.endpoints.create.mutate({ url: 'https://example.com/x' }),
        () => client.webhooks.endpoints.get.query({ id: endpointId }),
        () => client.webhooks.endpoints.rotateSecret.mutate({ id: endpointId }),
        () => client.webhooks.endpoints.test.mutate({ id: endpointId }),
        () => client.webhooks.deliveries.list.query({}),
        () => client.webhooks.deliveries.resend.mutate({ id: deliveryId }),
        () => client.notificationRules.list.query(),
        () => client.events.list.query({}),
      ]) {
        expect((await rejection(call())).data?.code).toBe('UNAUTHORIZED');
      }
    }
  });
});

describe('bad input', () => {
  let app: TestApp;
  let endpointId: string;
  beforeAll(async () => {
    app = await createTestApp(service);
    endpointId = (await app.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/bad-input' })).endpoint.id;
  });

  /** Row counts and contents of everything the webhooks API writes. */
  async function fingerprint(): Promise<string> {
    const [row] = await service.database.db.query(`
      SELECT (SELECT count(*) || ':' || md5(coalesce(string_agg(e::text, '|' ORDER BY e.id), '')) FROM webhook_endpoints e) AS endpoints,
             (SELECT count(*) || ':' || md5(coalesce(string_agg(r::text, '|' ORDER BY r.id), '')) FROM notification_rules r) AS rules,
             (SELECT count(*) || ':' || md5(coalesce(string_agg(d::text, '|' ORDER BY d.id), '')) FROM webhook_deliveries d) AS deliveries,
             (SELECT count(*) FROM events) AS events`);
    return JSON.stringify(row);
  }

  type Case = [name: string, call: () => Promise<unknown>, path: (string | number)[]];
  const hooks = () => app.client.webhooks;
  const cases: Case[] = [
    ['create: url not a URL', () => hooks().endpoints.create.mutate({ url: 'not a url' }), ['url']],
    ['create: url empty', () => hooks().endpoints.create.mutate({ url: '   ' }), ['url']],
    ['create: url with ftp:', () => hooks().endpoints.create.mutate({ url: 'ftp://example.com/hook' }), ['url']],
    ['create: url with a user and password', () => hooks().endpoints.create.mutate({ url: 'https://me:pw@example.com/hook' }), ['url']],
    ['create: private address, not allow-listed', () => hooks().endpoints.create.mutate({ url: 'http://10.0.0.1/' }), ['url']],
    ['create: url too long', () => hooks().endpoints.create.mutate({ url: `https://example.com/${'x'.repeat(2100)}` }), ['url']],
    [
      'create: unknown event type',
      () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', eventTypes: ['connection.created', 'nope'] }),
      ['eventTypes', 1],
    ],
    [
      'create: unknown event family',
      () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', eventTypes: ['nope.*'] }),
      ['eventTypes', 0],
    ],
    ['create: no event types', () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', eventTypes: [] }), ['eventTypes']],
    [
      'create: repeated event types',
      () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', eventTypes: ['job.*', 'job.*'] }),
      ['eventTypes'],
    ],
    [
      'create: connection id not a uuid',
      () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', connectionIds: ['x'] }),
      ['connectionIds', 0],
    ],
    [
      'create: no connection ids',
      () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', connectionIds: [] }),
      ['connectionIds'],
    ],
    [
      'create: description with a control character',
      () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', description: 'a\u0007b' }),
      ['description'],
    ],
    [
      'create: unknown field',
      () => hooks().endpoints.create.mutate({ url: 'https://example.com/h', secret: 'whsec_mine' } as never),
      ['secret'],
    ],
    ['update: id not a uuid', () => hooks().endpoints.update.mutate({ id: 'nope', enabled: false }), ['id']],
    ['update: url with ftp:', () => hooks().endpoints.update.mutate({ id: endpointId, url: 'ftp://example.com/' }), ['url']],
    ['update: link-local url', () => hooks().endpoints.update.mutate({ id: endpointId, url: 'http://169.254.169.254/latest' }), ['url']],
    ['update: unknown event type', () => hooks().endpoints.update.mutate({ id: endpointId, eventTypes: ['nope'] }), ['eventTypes', 0]],
    ['update: enabled not a boolean', () => hooks().endpoints.update.mutate({ id: endpointId, enabled: 'yes' as never }), ['enabled']],
    ['update: unknown field', () => hooks().endpoints.update.mutate({ id: endpointId, failingSince: null } as never), ['failingSince']],
    ['delete: id not a uuid', () => hooks().endpoints.delete.mutate({ id: "1' OR '1'='1" }), ['id']],
    ['rotateSecret: id missing', () => hooks().endpoints.rotateSecret.mutate({} as never), ['id']],
    ['test: id not a uuid', () => hooks().endpoints.test.mutate({ id: 'x' }), ['id']],
    ['recover: since not a date', () => hooks().endpoints.recover.mutate({ id: endpointId, since: 'not a date' as never }), ['since']],
    ['resend: id not a uuid', () => hooks().deliveries.resend.mutate({ id: 'x' }), ['id']],
    ['deliveries.list: status bogus', () => hooks().deliveries.list.query({ status: 'bogus' as never }), ['status']],
    ['deliveries.list: endpointId not a uuid', () => hooks().deliveries.list.query({ endpointId: 'x' }), ['endpointId']],
    ['deliveries.list: limit 0', () => hooks().deliveries.list.query({ limit: 0 }), ['limit']],
    ['deliveries.list: a cursor it did not issue', () => hooks().deliveries.list.query({ cursor: 'garbage' }), ['cursor']],
    ['endpoints.list: a cursor it did not issue', () => hooks().endpoints.list.query({ cursor: 'garbage' }), ['cursor']],
    ['events.list: unknown type', () => app.client.events.list.query({ types: ['nope'] as never }), ['types', 0]],
    ['events.list: since not a date', () => app.client.events.list.query({ since: 'yesterday' as never }), ['since']],
    ['events.list: a cursor it did not issue', () => app.client.events.list.query({ cursor: 'garbage' }), ['cursor']],
  ];

  it.each(cases)('%s → BAD_REQUEST naming the field, nothing written', async (_name, call, path) => {
    const before = await fingerprint();
    const error = await rejection(call());
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.data?.httpStatus).toBe(400);
    expect(error.data?.issues?.map((i) => i.path)).toContainEqual(path);
    expect(error.message).toContain(String(path[0]));
    expect(await fingerprint()).toBe(before);
  });
});

describe('SSRF: endpoint addresses are checked when they are set', () => {
  it('loopback, private, link-local and mapped addresses are refused unless allow-listed', async () => {
    const strict = await startTestService({ webhooks: { allowedAddresses: [] } });
    try {
      const app = await createTestApp(strict);
      const { endpoint } = await app.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/ok' });
      for (const url of [
        'http://127.0.0.1:1/x',
        'http://localhost:1/x',
        'http://app.localhost/x',
        'http://10.0.0.1/x',
        'http://192.168.1.10/x',
        'http://169.254.169.254/latest',
        'http://[::1]:1/x',
        'http://[::ffff:127.0.0.1]:1/x',
        'http://[fd00::1]/x',
        'http://0.0.0.0/x',
        'http://2130706433/x', // 127.0.0.1 written as one number
        'http://0x7f.1/x',
      ]) {
        for (const call of [
          () => app.client.webhooks.endpoints.create.mutate({ url }),
          () => app.client.webhooks.endpoints.update.mutate({ id: endpoint.id, url }),
        ]) {
          const error = await rejection(call());
          expect([url, error.data?.code, error.data?.issues?.map((i) => i.path)]).toEqual([url, 'BAD_REQUEST', [['url']]]);
        }
      }
      // A public address is fine (nothing is sent at create time), and the refused updates changed nothing.
      expect((await app.client.webhooks.endpoints.create.mutate({ url: 'http://93.184.216.34/hook' })).endpoint.url).toBe(
        'http://93.184.216.34/hook',
      );
      expect((await app.client.webhooks.endpoints.get.query({ id: endpoint.id })).url).toBe('https://example.com/ok');
      const [{ n }] = await strict.database.db.query(`SELECT count(*)::int AS n FROM webhook_endpoints`);
      expect(n).toBe(2);
    } finally {
      await strict.close();
    }
  });

  it('with allowHttp off, https is required', async () => {
    const httpsOnly = await startTestService({ webhooks: { allowHttp: false } });
    try {
      const app = await createTestApp(httpsOnly);
      const error = await rejection(app.client.webhooks.endpoints.create.mutate({ url: 'http://example.com/' }));
      expect([error.data?.code, error.data?.issues?.map((i) => i.path)]).toEqual(['BAD_REQUEST', [['url']]]);
      expect(error.message).toMatch(/https/);
      const ok = await app.client.webhooks.endpoints.create.mutate({ url: 'https://example.com/hook' });
      expect(ok.endpoint.url).toBe('https://example.com/hook');
      const update = await rejection(app.client.webhooks.endpoints.update.mutate({ id: ok.endpoint.id, url: 'http://example.com/hook' }));
      expect(update.data?.code).toBe('BAD_REQUEST');
    } finally {
      await httpsOnly.close();
    }
  });
});
