import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { PostgresRunCoordinator } from '../../src/scheduler/run-coordinator.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { SCHEDULES, type ScheduleName } from '../../src/scheduler/schedules.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// The smaller ticks: run-once-per-slot coordination, lease recovery, the delivery backstop, and retention.

const DAY = 86_400_000;
let service: TestService;
let clock: ManualClock;
let scheduler: Scheduler;
let app: TestApp;
let receiver: WebhookReceiver;
const db = () => service.database.db;

beforeAll(async () => {
  clock = new ManualClock(new Date());
  service = await startTestService({ clock });
  const patterns = Object.fromEntries(Object.entries(SCHEDULES).map(([n, s]) => [n, s.pattern])) as Record<ScheduleName, string>;
  scheduler = new Scheduler(service.deps, service.services, {
    patterns,
    sweepBatchSize: 2,
    sweepMaxBatches: 10,
    consentWarningDays: 7,
    eventRetentionMs: 30 * DAY,
    attemptRetentionMs: 10 * DAY,
    jobRetentionMs: 30 * DAY,
  });
  app = await createTestApp(service);
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver.close();
  await service.close();
});

describe('scheduler ticks', () => {
  it('the Postgres RunCoordinator lets exactly one replica run a slot', async () => {
    const replicas = Array.from({ length: 5 }, (_, i) => new PostgresRunCoordinator(db(), `replica-${i}`));
    const key = `retention:${new Date().toISOString()}`;
    const answers = await Promise.all(replicas.map((r) => r.shouldRun(key)));
    expect(answers.filter(Boolean)).toHaveLength(1);
    await replicas[answers.indexOf(true)]!.onComplete(key);
    const [row] = await db().query(`SELECT claimed_by, finished_at FROM scheduler_runs WHERE key = $1`, [key]);
    expect(row.claimed_by).toBe(`replica-${answers.indexOf(true)}`);
    expect(row.finished_at).not.toBeNull();
    // The next slot is a new election.
    expect(await replicas[4]!.shouldRun(`retention:${new Date(Date.now() + 3_600_000).toISOString()}`)).toBe(true);
  });

  it('recovery releases expired leases of jobs and deliveries and wakes their workers', async () => {
    const { endpoint, secret } = await app.client.webhooks.endpoints.create.mutate({
      url: receiver.url,
      eventTypes: ['connection.created'],
    });
    receiver.secrets = [secret];
    const { job } = await app.client.connections.create.mutate(connectionInput());
    const past = new Date(clock.now().getTime() - 60_000);
    await db().query(`UPDATE jobs SET status = 'running', locked_by = 'dead-worker', locked_until = $2 WHERE id = $1`, [job.id, past]);
    await db().query(`UPDATE webhook_deliveries SET locked_by = 'dead-worker', locked_until = $2, attempts = 1 WHERE endpoint_id = $1`, [
      endpoint.id,
      past,
    ]);
    expect(await scheduler.run('recovery')).toMatchObject({ jobs: 1, deliveries: 1 });
    const [j] = await db().query(`SELECT status, locked_by FROM jobs WHERE id = $1`, [job.id]);
    expect(j).toEqual({ status: 'queued', locked_by: null });
    const [d] = await db().query(`SELECT status, locked_by FROM webhook_deliveries WHERE endpoint_id = $1`, [endpoint.id]);
    expect(d).toEqual({ status: 'pending', locked_by: null });
    // Nothing live is touched.
    expect(await scheduler.run('recovery')).toMatchObject({ jobs: 0, deliveries: 0 });

    // The backstop: due deliveries wake a worker that would not poll for a minute.
    await db().query(`UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE endpoint_id = $1`, [
      endpoint.id,
      new Date(clock.now().getTime() + DAY),
    ]);
    expect(await scheduler.run('deliveryBackstop')).toBe(false);
    const worker = service.deliveryWorker({ pollMs: 60_000 });
    await worker.start();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.received).toHaveLength(0);
      await db().query(`UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE endpoint_id = $1`, [endpoint.id, clock.now()]);
      expect(await scheduler.run('deliveryBackstop')).toBe(true);
      await receiver.waitFor((all) => all.some((r) => r.status === 204), 10_000);
    } finally {
      await worker.stop(1_000);
    }
  });

  it('retention prunes old attempts and events in batches, keeping events still being delivered', async () => {
    const { endpoint } = await app.client.webhooks.endpoints.create.mutate({
      url: 'http://127.0.0.1:9/never',
      eventTypes: ['connection.created'],
    });
    const old = await Promise.all(Array.from({ length: 5 }, () => app.client.connections.create.mutate(connectionInput())));
    const oldIds = old.map((o) => o.connection.id);
    // Age them: the events a month and a half old, one of them still waiting to be delivered; attempts two weeks old.
    await db().query(`UPDATE events SET occurred_at = now() - interval '45 days' WHERE connection_id = ANY($1::uuid[])`, [oldIds]);
    await db().query(
      `UPDATE webhook_deliveries d SET status = 'succeeded' FROM events e
       WHERE d.event_id = e.id AND e.connection_id = ANY($2::uuid[]) AND NOT (d.endpoint_id = $1 AND e.connection_id = $3)`,
      [endpoint.id, oldIds, oldIds[0]],
    );
    await db().query(
      `INSERT INTO webhook_delivery_attempts (delivery_id, attempted_at, status_code, latency_ms)
       SELECT d.id, now() - interval '14 days', 500, 10 FROM webhook_deliveries d WHERE d.endpoint_id = $1`,
      [endpoint.id],
    );
    const fresh = await app.client.connections.create.mutate(connectionInput());
    const result = (await scheduler.run('retention')) as { attempts: number; events: number };
    expect(result.attempts).toBe(5);
    const left: { connection_id: string; type: string }[] = await db().query(
      `SELECT connection_id, type FROM events WHERE connection_id = ANY($1::uuid[])`,
      [[...oldIds, fresh.connection.id]],
    );
    // The old events went, except the created event still pending delivery; the fresh ones stay.
    expect(left.filter((e) => e.connection_id !== fresh.connection.id)).toEqual([{ connection_id: oldIds[0], type: 'connection.created' }]);
    expect(left.filter((e) => e.connection_id === fresh.connection.id).length).toBeGreaterThan(0);
    expect(result.events).toBeGreaterThanOrEqual(4);
  });

  it("retention deletes old finished jobs, but never a connection's latest, nor one still busy", async () => {
    const { connection, job: first } = await app.client.connections.create.mutate(connectionInput());
    const ids = [first!.id];
    // Five finished jobs, finished a long time ago, and a sixth (the latest) as old as they are.
    for (let i = 0; i < 5; i++) {
      await db().query(
        `UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '60 days' WHERE connection_id = $1 AND status = 'queued'`,
        [connection.id],
      );
      ids.push((await app.client.connections.refresh.mutate({ id: connection.id })).job.id);
    }
    await db().query(
      `UPDATE jobs SET status = 'failed', finished_at = now() - interval '60 days' WHERE connection_id = $1 AND status = 'queued'`,
      [connection.id],
    );
    // Another connection whose only job is old: kept, it is that connection's latest.
    const other = await app.client.connections.create.mutate(connectionInput());
    await db().query(`UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '60 days' WHERE id = $1`, [other.job!.id]);

    const result = (await scheduler.run('retention')) as { jobs: number };
    expect(result.jobs).toBe(5);
    const left: { id: string }[] = await db().query(`SELECT id FROM jobs WHERE connection_id = ANY($1::uuid[])`, [
      [connection.id, other.connection.id],
    ]);
    expect(left.map((j) => j.id).sort()).toEqual([ids.at(-1)!, other.job!.id].sort());
    expect((await app.client.jobs.list.query({ connectionId: connection.id }))[0]!.id).toBe(ids.at(-1));
  });
});
