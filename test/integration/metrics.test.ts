import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, startTestService, type TestService } from '../helpers/test-service.ts';
import { connectionInput } from '../helpers/factories.ts';
import { freePort } from '../helpers/free-port.ts';
import { startServiceProcess, waitUntil, type ServiceProcess } from '../helpers/service-process.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { sample } from '../helpers/prometheus.ts';

// GET /metrics on a real `npm start` process (all roles): the job and delivery counters move with real work, and
// the logs carry job and connection ids but never a credential.

let service: TestService;
let receiver: WebhookReceiver;
let proc: ServiceProcess;
let base: string;

beforeAll(async () => {
  service = await startTestService();
  receiver = await startWebhookReceiver();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  proc = startServiceProcess({
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: service.database.url,
    CREDENTIALS_KEYS: service.credentialKeysEnv,
    CREATE_DEMO_APP: 'false',
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
  });
  await proc.waitFor(/scheduler started/);
  await proc.waitFor(/listening/);
});
afterAll(async () => {
  proc?.kill('SIGKILL');
  await proc?.exited;
  await receiver.close();
  await service.close();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

describe('observability', () => {
  it(
    '/metrics shows jobs and deliveries moving, queue depths and refresh lag; logs carry ids, never credentials',
    { timeout: 60_000 },
    async () => {
      const { apiKey } = await service.services.apps.create('metrics');
      const client = createClient(base, apiKey);
      const { secret } = await client.webhooks.endpoints.create.mutate({ url: receiver.url, eventTypes: ['job.completed'] });
      receiver.secrets = [secret];

      const before = await scrape();
      expect(before).toContain('cs_queue_depth');
      expect(before).toContain('cs_refresh_lag_seconds 0');
      expect(before).toContain('cs_process_resident_memory_bytes');
      const password = 'metrics-secret-password-123';
      const created = await Promise.all(
        Array.from({ length: 3 }, () =>
          client.connections.create.mutate(connectionInput({ credentials: { loginId: 'metrics', password } })),
        ),
      );
      await receiver.waitFor((all) => all.filter((r) => r.status === 204).length === 3, 30_000);

      let after = '';
      await waitUntil(
        async () => {
          after = await scrape();
          return sample(after, 'cs_webhook_deliveries_total', { outcome: 'succeeded' }) >= 3;
        },
        10_000,
        'the delivery counter to move',
      );
      expect(
        sample(after, 'cs_jobs_total', { kind: 'create', outcome: 'succeeded' }) -
          sample(before, 'cs_jobs_total', { kind: 'create', outcome: 'succeeded' }),
      ).toBe(3);
      expect(sample(after, 'cs_job_duration_seconds_count', { kind: 'create', outcome: 'succeeded' })).toBe(3);
      expect(sample(after, 'cs_webhook_delivery_latency_seconds_count', { outcome: 'succeeded' })).toBeGreaterThanOrEqual(3);
      // The API's own requests, by procedure and status (a fresh process: these are all of them).
      expect(sample(after, 'cs_http_requests_total', { procedure: 'connections.create', status: '200' })).toBe(3);
      expect(sample(after, 'cs_http_requests_total', { procedure: 'webhooks.endpoints.create', status: '200' })).toBe(1);
      expect(sample(after, 'cs_http_request_duration_seconds_count', { procedure: 'connections.create', status: '200' })).toBe(3);
      expect(sample(after, 'cs_http_requests_total', { procedure: '/metrics', status: '200' })).toBeGreaterThanOrEqual(1);

      const logs = proc.output();
      const access = logs
        .split('\n')
        .filter((l) => l.includes('"msg":"request"'))
        .map((l) => JSON.parse(l.slice(l.indexOf('{'))));
      expect(access.filter((l) => l.procedure === 'connections.create')).toHaveLength(3);
      expect(access.find((l) => l.procedure === 'connections.create')).toMatchObject({
        method: 'POST',
        status: 200,
        appId: expect.any(String),
        requestId: expect.any(String),
        durationMs: expect.any(Number),
      });
      for (const c of created) expect(logs).toContain(c.job.id);
      expect(logs).not.toContain(password);
      expect(logs).not.toContain(secret);
    },
  );
});
