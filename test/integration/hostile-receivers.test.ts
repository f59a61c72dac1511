import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Sender } from '../../src/webhooks/delivery.types.ts';
import { DeliveryWorker } from '../../src/webhooks/delivery.worker.ts';
import type { SendOutcome } from '../../src/webhooks/webhook-sender.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// What one app's receiver answers must never hurt another app's deliveries: anything it sends back is stored as
// PostgreSQL can store it, and a row that cannot be written fails alone, not its whole batch.

let service: TestService;
const receivers: WebhookReceiver[] = [];
const workers: DeliveryWorker[] = [];

beforeAll(async () => {
  service = await startTestService();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(0)));
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await service.close();
});

async function subscribedReceiver(app: TestApp): Promise<{ receiver: WebhookReceiver; endpointId: string }> {
  const receiver = await startWebhookReceiver();
  receivers.push(receiver);
  const { endpoint, secret } = await app.client.webhooks.endpoints.create.mutate({ url: receiver.url, eventTypes: ['connection.created'] });
  receiver.secrets = [secret];
  return { receiver, endpointId: endpoint.id };
}

async function deliveryRows(endpointId: string) {
  return (await service.database.db.query(
    `SELECT d.id, d.status, d.attempts, a.response_body FROM webhook_deliveries d
     LEFT JOIN webhook_delivery_attempts a ON a.delivery_id = d.id WHERE d.endpoint_id = $1`,
    [endpointId],
  )) as { id: string; status: string; attempts: number; response_body: string | null }[];
}

describe('hostile webhook receivers', () => {
  it('a receiver answering 200 "ok\\0" is delivered to once, and so is every other app in the same batch', async () => {
    const [hostileApp, otherApp] = [await createTestApp(service), await createTestApp(service)];
    const hostile = await subscribedReceiver(hostileApp);
    hostile.receiver.respond = () => ({ status: 200, body: 'ok\u0000' });
    const other = await subscribedReceiver(otherApp);

    // Queue both apps' events before the worker starts, so their successes are written in one batch.
    for (let i = 0; i < 5; i++) {
      await hostileApp.client.connections.create.mutate(connectionInput());
      await otherApp.client.connections.create.mutate(connectionInput());
    }
    const worker = service.deliveryWorker();
    workers.push(worker);
    await worker.start();

    await waitUntil(
      async () => (await deliveryRows(hostile.endpointId)).every((d) => d.status === 'succeeded'),
      15_000,
      'the hostile deliveries to succeed',
    );
    await waitUntil(
      async () => (await deliveryRows(other.endpointId)).every((d) => d.status === 'succeeded'),
      15_000,
      'the other deliveries to succeed',
    );
    for (const { endpointId, receiver } of [hostile, other]) {
      const rows = await deliveryRows(endpointId);
      expect(rows).toHaveLength(5);
      expect(rows.map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1]);
      expect(receiver.received).toHaveLength(5); // no duplicate sends
    }
    expect((await deliveryRows(hostile.endpointId)).map((r) => r.response_body)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);

    // The test call goes through the same write, and answers instead of failing with a 500.
    const test = await hostileApp.client.webhooks.endpoints.test.mutate({ id: hostile.endpointId });
    expect(test).toMatchObject({ status: 'succeeded', statusCode: 200 });
  });

  it('one success that cannot be written fails alone; the rest of its batch is recorded', async () => {
    const { endpointId, poisoned, sender } = await poisonedBatch();
    const worker = new DeliveryWorker(service.deps, sender, { ...service.webhookSettings, concurrency: 8 });
    workers.push(worker);
    await worker.runOnce();

    const rows = await deliveryRows(endpointId);
    expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(3);
    expect(rows.find((r) => r.id === poisoned)).toMatchObject({ status: 'pending' });
  });

  it('the same when the batch is written in the transaction of the next claim', async () => {
    const { endpointId, poisoned, sender } = await poisonedBatch();
    const worker = new DeliveryWorker(service.deps, sender, { ...service.webhookSettings, concurrency: 8 });
    workers.push(worker);
    // drain claims again as soon as the batch's sends have answered, before the batch's own write is due.
    await worker.drain();

    const rows = await deliveryRows(endpointId);
    expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(3);
    expect(rows.find((r) => r.id === poisoned)).toMatchObject({ status: 'pending' });
  });
});

/** Four deliveries to one endpoint, and a sender whose answer for one of them no row can hold. */
async function poisonedBatch(): Promise<{ endpointId: string; poisoned: string; sender: Sender }> {
  const app = await createTestApp(service);
  const { endpointId } = await subscribedReceiver(app);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await app.client.connections.create.mutate(connectionInput())).connection.id);
  const [poisoned] = (await service.database.db.query(
    `SELECT d.id, d.event_id FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.endpoint_id = $1 AND e.connection_id = $2`,
    [endpointId, ids[0]],
  )) as { id: string; event_id: string }[];
  // A latency past int4, as a hostile peer could produce.
  const sender: Sender = {
    async send(_url, headers): Promise<SendOutcome> {
      const latencyMs = headers['webhook-id'] === poisoned!.event_id ? 1e12 : 1;
      return { ok: true, statusCode: 200, error: null, latencyMs, retryAfterMs: null, responseBody: 'fine', blocked: false };
    },
  };
  return { endpointId, poisoned: poisoned!.id, sender };
}
