import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { startServiceProcess, waitUntil, type ServiceProcess } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// A real worker process (`ROLES=worker`) killed with SIGKILL while a webhook request is in flight: the delivery is
// retried by another worker after its lease, with the same webhook-id, and nothing is lost.

let service: TestService;
let app: TestApp;
let receiver: WebhookReceiver;
const workers: ServiceProcess[] = [];
const LEASE_MS = 2_000;

const startWorker = async () => {
  const w = startServiceProcess({
    ROLES: 'worker',
    DATABASE_URL: service.database.url,
    CREDENTIALS_KEYS: service.credentialKeysEnv,
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
    WEBHOOK_TIMEOUT_MS: '1500',
    WEBHOOK_LEASE_MS: String(LEASE_MS),
    WEBHOOK_POLL_MS: '200',
  });
  workers.push(w);
  await w.waitFor(/webhook delivery worker started/);
  return w;
};

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await receiver.close();
  await service.close();
});

describe('webhook delivery across processes', () => {
  it(
    'SIGKILL during a delivery: another worker retries it after the lease, same webhook-id, nothing lost',
    { timeout: 60_000 },
    async () => {
      const { endpoint, secret } = await app.client.webhooks.endpoints.create.mutate({
        url: receiver.url,
        eventTypes: ['connection.created'],
      });
      receiver.secrets = [secret];
      // The first request is held open: the worker that sent it is killed before any answer.
      receiver.respond = () => (receiver.received.length === 1 ? 'hang' : { status: 204 });
      const { connection } = await app.client.connections.create.mutate(connectionInput());

      const first = await startWorker();
      await receiver.waitFor((all) => all.length === 1, 20_000);
      first.kill('SIGKILL');
      await first.exited;
      const [held] = await service.database.db.query(`SELECT status, locked_by, attempts FROM webhook_deliveries WHERE endpoint_id = $1`, [
        endpoint.id,
      ]);
      expect(held).toMatchObject({ status: 'pending', attempts: 1 });
      expect(held.locked_by).not.toBeNull();

      await startWorker();
      await receiver.waitFor((all) => all.some((r) => r.status === 204), 20_000);
      await waitUntil(
        async () =>
          (await service.database.db.query(`SELECT status FROM webhook_deliveries WHERE endpoint_id = $1`, [endpoint.id]))[0].status ===
          'succeeded',
        10_000,
        'the delivery to be recorded as succeeded',
      );
      const [done] = await service.database.db.query(`SELECT attempts, locked_by FROM webhook_deliveries WHERE endpoint_id = $1`, [
        endpoint.id,
      ]);
      expect(done).toMatchObject({ attempts: 2, locked_by: null });
      expect(receiver.received).toHaveLength(2);
      expect(receiver.received.every((r) => r.verified)).toBe(true);
      expect(new Set(receiver.received.map((r) => r.webhookId)).size).toBe(1);
      expect(receiver.received[0]!.json).toMatchObject({ type: 'connection.created', connectionId: connection.id });
    },
  );
});
