import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryWorker, DeliveryWorkerOptions } from '../../src/webhooks/delivery.worker.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// Delivery under faults, against real local receivers that verify every request with the standardwebhooks
// package: a receiver that is down and comes back, 410, Retry-After, a slow receiver beside a fast one, an
// endpoint failing for too long, retries exhausted, resend and recover. The real clock runs; the retry schedule is
// configured in milliseconds so the whole schedule runs in seconds.

let service: TestService;
let app: TestApp;
const receivers: WebhookReceiver[] = [];
const workers: DeliveryWorker[] = [];

beforeAll(async () => {
  service = await startTestService({ webhooks: { timeoutMs: 1_000, connectTimeoutMs: 500, perEndpointConcurrency: 2 } });
  app = await createTestApp(service);
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(0)));
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await service.close();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver();
  receivers.push(r);
  return r;
}

/** An endpoint on a receiver that knows its secret, subscribed to connection.created unless told otherwise. */
async function endpointOn(r: WebhookReceiver, eventTypes: string[] = ['connection.created']) {
  const { endpoint, secret } = await app.client.webhooks.endpoints.create.mutate({ url: r.url, eventTypes });
  r.secrets = [secret];
  return endpoint;
}

async function worker(options: Partial<DeliveryWorkerOptions> = {}): Promise<DeliveryWorker> {
  const w = service.deliveryWorker(options);
  workers.push(w);
  await w.start();
  return w;
}

/** Creating a connection records connection.created at once: an event without running any job. */
async function createConnections(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await app.client.connections.create.mutate(connectionInput())).connection.id);
  return out;
}

async function deliveriesOf(endpointId: string) {
  return (await app.client.webhooks.deliveries.list.query({ endpointId, limit: 200 })).items;
}

const idsOf = (rs: ReceivedWebhook[]) => [...new Set(rs.map((r) => r.webhookId))].sort();

describe('webhook delivery', () => {
  it('the first attempt goes out right after the commit, not at the next poll', async () => {
    const r = await receiver();
    await endpointOn(r);
    // A worker that would not poll again for a minute: only the NOTIFY sent on commit can wake it.
    await worker({ pollMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await createConnections(1);
    await r.waitFor((all) => all.length === 1, 10_000);
    expect(r.received[0]!.receivedAt - started).toBeLessThan(10_000);
    expect(r.received[0]!.verified).toBe(true);
  });

  it('a receiver that is down for a while, then failing, then back gets every message, with the same webhook-id on every retry', async () => {
    const r = await receiver();
    const endpoint = await endpointOn(r);
    // After it comes back it fails each message's first attempt once more (503 without Retry-After).
    const seen = new Map<string, number>();
    r.respond = (req) => {
      const n = (seen.get(req.webhookId) ?? 0) + 1;
      seen.set(req.webhookId, n);
      return n === 1 ? { status: 503 } : { status: 204 };
    };
    await r.stop();
    await worker({ retryScheduleMs: [200, 400, 800, 1_600, 3_200] });
    const connectionIds = await createConnections(5);
    // Down long enough that every delivery fails at least once with no answer at all.
    await waitUntil(
      async () => (await deliveriesOf(endpoint.id)).every((d) => d.attempts >= 1 && d.lastError),
      5_000,
      'first attempts to fail',
    );
    await r.start();
    await r.waitFor((all) => all.filter((x) => x.status === 204).length === 5, 15_000);
    await waitUntil(
      async () => (await deliveriesOf(endpoint.id)).every((d) => d.status === 'succeeded'),
      10_000,
      'the successes to be recorded',
    );

    const events = (await app.client.events.list.query({ types: ['connection.created'], limit: 500 })).items.filter((e) =>
      connectionIds.includes(e.connectionId!),
    );
    expect(idsOf(r.received)).toEqual(events.map((e) => e.id).sort());
    expect(r.received.every((x) => x.verified)).toBe(true);
    const deliveries = await deliveriesOf(endpoint.id);
    for (const d of deliveries) {
      expect(d.status).toBe('succeeded');
      const requests = r.received.filter((x) => x.webhookId === d.eventId);
      // Every attempt that reached the receiver carried the event's id: 503 first, then 204.
      expect(requests.map((x) => x.status)).toEqual([503, 204]);
      const log = d.attemptLog;
      expect(log.length).toBeGreaterThanOrEqual(3);
      expect(log.filter((a) => a.statusCode === null).length).toBeGreaterThanOrEqual(1); // refused while down
      expect(log.at(-1)!.statusCode).toBe(204);
      expect(new Set(requests.map((x) => x.json.id))).toEqual(new Set([d.eventId]));
    }
  });

  it('410 Gone disables the endpoint at once, with an endpoint.disabled event to the others', async () => {
    const gone = await receiver();
    gone.respond = () => ({ status: 410 });
    const watcher = await receiver();
    const endpoint = await endpointOn(gone);
    await endpointOn(watcher, ['endpoint.disabled']);
    await worker();
    await createConnections(1);
    await watcher.waitFor((all) => all.some((x) => x.type === 'endpoint.disabled'));
    const disabled = watcher.verifiedOfType('endpoint.disabled')[0]!;
    expect(disabled.json.data).toMatchObject({ endpoint: { id: endpoint.id, enabled: false }, reason: expect.stringContaining('410') });
    expect(await app.client.webhooks.endpoints.get.query({ id: endpoint.id })).toMatchObject({
      enabled: false,
      disabledReason: expect.stringContaining('410'),
    });
    // Nothing more goes to it.
    await createConnections(2);
    await new Promise((r) => setTimeout(r, 500));
    expect(gone.received).toHaveLength(1);
    expect((await deliveriesOf(endpoint.id)).map((d) => d.status)).toEqual(['failed']);
  });

  it('429 with Retry-After waits as told instead of following the schedule', async () => {
    const r = await receiver();
    let calls = 0;
    r.respond = () => (++calls === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 204 });
    const endpoint = await endpointOn(r);
    await worker({ retryScheduleMs: [100, 100, 100] });
    await createConnections(1);
    await r.waitFor((all) => all.length === 2, 10_000);
    const [first, second] = r.received;
    expect(first!.webhookId).toBe(second!.webhookId);
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(1_900);
    // The receiver answered; the success is recorded a moment later.
    await waitUntil(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'succeeded', 10_000, 'the success to be recorded');
    const [delivery] = await deliveriesOf(endpoint.id);
    expect(delivery!.attemptLog.map((a) => a.statusCode)).toEqual([429, 204]);
  });

  it('a slow receiver times out and is retried, while another endpoint keeps being served', async () => {
    const slow = await receiver();
    const fast = await receiver();
    // The slow one never answers until told to: every request to it ends by the sender's timeout (1 s).
    let slowAnswers: 'hang' | 'fast' = 'hang';
    slow.respond = () => (slowAnswers === 'hang' ? 'hang' : { status: 204 });
    const slowEndpoint = await endpointOn(slow);
    await endpointOn(fast);
    await worker({ concurrency: 8, retryScheduleMs: [200, 400, 800, 1_600] });
    await createConnections(12);
    // All twelve reach the fast endpoint while the slow one hangs: it holds at most its two slots, never the others.
    await fast.waitFor((all) => all.length === 12, 20_000);
    await slow.waitFor((all) => all.length >= 2, 20_000);
    expect(slow.maxInFlight).toBe(2);

    slowAnswers = 'fast';
    await waitUntil(
      async () => (await deliveriesOf(slowEndpoint.id)).every((d) => d.status === 'succeeded'),
      30_000,
      'slow deliveries to succeed',
    );
    expect(slow.maxInFlight).toBeLessThanOrEqual(2);
    const timedOut = (await deliveriesOf(slowEndpoint.id)).filter((d) => d.attemptLog[0]!.error?.includes('timed out'));
    expect(timedOut.length).toBeGreaterThanOrEqual(2);
    for (const d of timedOut) expect(slow.received.filter((x) => x.webhookId === d.eventId).length).toBeGreaterThanOrEqual(2);
    expect(idsOf(slow.received)).toEqual(idsOf(fast.received));
    expect(fast.maxInFlight).toBeLessThanOrEqual(2);
  });

  it('an endpoint failing without a success for too long is disabled, with an endpoint.disabled event', async () => {
    const failing = await receiver();
    failing.respond = () => ({ status: 500 });
    const watcher = await receiver();
    const endpoint = await endpointOn(failing);
    await endpointOn(watcher, ['endpoint.disabled']);
    await worker({ retryScheduleMs: Array(20).fill(150), disableAfterMs: 800 });
    await createConnections(1);
    await watcher.waitFor((all) => all.some((x) => x.json?.data?.endpoint?.id === endpoint.id), 10_000);
    const view = await app.client.webhooks.endpoints.get.query({ id: endpoint.id });
    expect(view).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('no successful delivery') });
    expect(failing.received.length).toBeGreaterThanOrEqual(3);
  });

  it('retries run out (dead); resend sends it again with the same webhook-id; recover re-sends what a disabled endpoint missed', async () => {
    const r = await receiver();
    r.respond = () => ({ status: 500 });
    const endpoint = await endpointOn(r);
    await worker({ retryScheduleMs: [100, 100] });
    await createConnections(1);
    await waitUntil(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'dead', 10_000, 'the delivery to die');
    const [dead] = await deliveriesOf(endpoint.id);
    expect(dead!.attempts).toBe(3);
    expect(r.received).toHaveLength(3);

    r.respond = () => ({ status: 204 });
    await app.client.webhooks.deliveries.resend.mutate({ id: dead!.id });
    await r.waitFor((all) => all.some((x) => x.status === 204));
    expect(new Set(r.received.map((x) => x.webhookId))).toEqual(new Set([dead!.eventId]));
    await waitUntil(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'succeeded', 5_000, 'the resent delivery');

    // Disabled for a while: the events of that time get no delivery; recover sends them.
    const since = new Date();
    await app.client.webhooks.endpoints.update.mutate({ id: endpoint.id, enabled: false });
    const missed = await createConnections(3);
    await app.client.webhooks.endpoints.update.mutate({ id: endpoint.id, enabled: true });
    expect(await deliveriesOf(endpoint.id)).toHaveLength(1);
    const { queued } = await app.client.webhooks.endpoints.recover.mutate({ id: endpoint.id, since });
    expect(queued).toBe(3);
    await r.waitFor((all) => missed.every((id) => all.some((x) => x.json.connectionId === id && x.status === 204)));
    // Recovering again finds nothing new to send.
    await waitUntil(async () => (await deliveriesOf(endpoint.id)).every((d) => d.status === 'succeeded'), 5_000, 'recovered deliveries');
    expect((await app.client.webhooks.endpoints.recover.mutate({ id: endpoint.id, since })).queued).toBe(0);
  });
});

describe('SSRF when the socket connects', () => {
  let guarded: TestService;
  let guardedApp: TestApp;
  // A name that resolves to loopback: what DNS rebinding looks like from here.
  const lookup = ((hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
    if (hostname !== 'rebind.test') return dnsLookup(hostname, options as never, callback as never);
    const all = (options as { all?: boolean }).all;
    const address: LookupAddress = { address: '127.0.0.1', family: 4 };
    return all ? callback(null, [address]) : callback(null, address.address, address.family);
  }) as LookupFunction;

  beforeAll(async () => {
    guarded = await startTestService({ webhooks: { allowedAddresses: [] }, lookup });
    guardedApp = await createTestApp(guarded);
  });
  afterAll(() => guarded.close());

  it('a host name that resolves to 127.0.0.1 passes the create-time check but is refused when connecting', async () => {
    const r = await receiver();
    const { endpoint, secret } = await guardedApp.client.webhooks.endpoints.create.mutate({ url: `http://rebind.test:${r.port}/hook` });
    r.secrets = [secret];
    const result = await guardedApp.client.webhooks.endpoints.test.mutate({ id: endpoint.id });
    expect(result.statusCode).toBeNull();
    expect(result.error).toMatch(/^blocked: .*127\.0\.0\.1/);
    expect(r.received).toHaveLength(0);
    // And literal private addresses never get that far.
    const refused = await guardedApp.client.webhooks.endpoints.create
      .mutate({ url: `http://127.0.0.1:${r.port}/hook` })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ data: { code: 'BAD_REQUEST', issues: [{ path: ['url'] }] } });
  });
});
