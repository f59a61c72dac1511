import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, insertConnections, type TestApp } from '../helpers/factories.ts';
import { startServiceProcess, waitUntil, type ServiceProcess } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// Real `ROLES=worker,scheduler` processes on one database: 5,000 due connections refreshed exactly once across
// three replicas, and SIGTERM under load losing nothing.

let service: TestService;
let app: TestApp;
let receiver: WebhookReceiver;
const procs: ServiceProcess[] = [];
const db = () => service.database.db;

function startReplica(extra: Record<string, string> = {}): ServiceProcess {
  const p = startServiceProcess({
    ROLES: 'worker,scheduler',
    DATABASE_URL: service.database.url,
    CREDENTIALS_KEYS: service.credentialKeysEnv,
    SCHEDULE_REFRESH_SWEEP: '* * * * * *',
    SWEEP_BATCH_SIZE: '250',
    WORKER_CONCURRENCY: '16',
    PROVIDER_CONCURRENCY: '16',
    JOB_POLL_MS: '200',
    JOB_LEASE_MS: '5000',
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
    WEBHOOK_TIMEOUT_MS: '4000',
    WEBHOOK_LEASE_MS: '5000',
    ...extra,
  });
  procs.push(p);
  return p;
}

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  await receiver.close();
  await service.close();
});

describe('worker and scheduler replicas', () => {
  it('three replicas, 5,000 due connections: each refreshed exactly once in the cycle', { timeout: 240_000 }, async () => {
    const ids = await insertConnections(service, app.id, 5_000, { status: 'ACTIVE' });
    await db().query(
      `UPDATE connections SET state = 'completed-up-to-date', connected_at = now() - interval '1 day', datasets = '{USER_INFO}',
              reference = 'sbx-' || id, next_refresh_at = now() - (random() * interval '1 hour')
       WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const replicas = [startReplica(), startReplica(), startReplica()];
    await Promise.all(replicas.map((r) => r.waitFor(/scheduler started/)));
    await waitUntil(
      async () => (await db().query(`SELECT count(*)::int AS n FROM jobs WHERE kind = 'refresh' AND status = 'succeeded'`))[0].n >= 5_000,
      200_000,
      '5,000 refreshes to succeed',
    );
    // A few more sweeps find nothing due: the cycle is over.
    await new Promise((r) => setTimeout(r, 2_500));
    const [counts] = await db().query(
      `SELECT count(*)::int AS jobs, count(DISTINCT connection_id)::int AS connections, count(DISTINCT locked_by)::int AS workers,
              count(*) FILTER (WHERE status <> 'succeeded')::int AS unfinished
       FROM jobs WHERE kind = 'refresh'`,
    );
    expect(counts).toMatchObject({ jobs: 5_000, connections: 5_000, unfinished: 0 });
    expect(counts.workers).toBeGreaterThanOrEqual(2);
    const [{ notAdvanced }] = await db().query(
      `SELECT count(*)::int AS "notAdvanced" FROM connections WHERE id = ANY($1::uuid[]) AND next_refresh_at < now() + interval '22 hours'`,
      [ids],
    );
    expect(notAdvanced).toBe(0);
    for (const r of replicas) r.kill('SIGTERM');
    expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0, 0]);
  });

  it('SIGTERM under load: every replica exits 0, nothing is left claimed, and nothing is lost', { timeout: 120_000 }, async () => {
    const { endpoint, secret } = await app.client.webhooks.endpoints.create.mutate({ url: receiver.url, eventTypes: ['job.completed'] });
    receiver.secrets = [secret];
    receiver.respond = () => ({ status: 204, delayMs: 1_500 });
    // Slow jobs (each provider call takes about a second) and slow webhook answers: both in flight at the SIGTERM.
    const created = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        app.client.connections.create.mutate(
          connectionInput({ userId: `load-${i}`, datasets: ['USER_INFO'], credentials: { loginId: 'slow', password: 'pw' } }),
        ),
      ),
    );
    const jobIds = created.map((c) => c.job.id);
    const replicas = [startReplica({ SHUTDOWN_GRACE_MS: '300' }), startReplica({ SHUTDOWN_GRACE_MS: '300' })];
    await Promise.all(replicas.map((r) => r.waitFor(/scheduler started/)));
    await waitUntil(
      async () => {
        const [row] = await db().query(
          `SELECT (SELECT count(*) FROM jobs WHERE status = 'running')::int AS jobs,
                  (SELECT count(*) FROM webhook_deliveries WHERE locked_by IS NOT NULL)::int AS deliveries`,
        );
        return row.jobs > 0 && row.deliveries > 0;
      },
      60_000,
      'jobs and deliveries in flight',
    );
    for (const r of replicas) r.kill('SIGTERM');
    expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0]);

    const [left] = await db().query(
      `SELECT (SELECT count(*) FROM jobs WHERE status = 'running')::int AS jobs,
              (SELECT count(*) FROM webhook_deliveries WHERE locked_by IS NOT NULL)::int AS deliveries`,
    );
    expect(left).toEqual({ jobs: 0, deliveries: 0 });

    // Another replica picks up everything handed back: every job finishes and every delivery arrives.
    receiver.respond = () => ({ status: 204 });
    const next = startReplica();
    await next.waitFor(/scheduler started/);
    await waitUntil(
      async () =>
        (await db().query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [jobIds]))[0].n === 60,
      60_000,
      'all jobs to succeed',
    );
    await waitUntil(
      async () =>
        (
          await db().query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND status <> 'succeeded'`, [
            endpoint.id,
          ])
        )[0].n === 0,
      30_000,
      'all deliveries to succeed',
    );
    const [{ deliveries }] = await db().query(`SELECT count(*)::int AS deliveries FROM webhook_deliveries WHERE endpoint_id = $1`, [
      endpoint.id,
    ]);
    expect(deliveries).toBe(60);
    const delivered = new Set(receiver.received.filter((r) => r.status === 204).map((r) => r.webhookId));
    expect(delivered.size).toBe(60);
    next.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });
});
