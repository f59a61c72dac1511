import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobRepository } from '../../src/jobs/job.repository.ts';
import { releaseExpiredLeases } from '../../src/scheduler/recovery.sweep.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// A job whose worker stopped (gracefully, handing it back) or died (its lease ran out) must not pretend a step is
// still in progress: the step it was on reads `interrupted` until a later run does it again.

let service: TestService;
let app: TestApp;

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
});
afterAll(() => service.close());

/** The sandbox's `slow` user: each call to the bank takes about a second, so a step is caught in progress. */
const createSlow = async () =>
  (await app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'slow', password: 'pw' } }))).job!;

describe('interrupted jobs', () => {
  it('a job handed back at a graceful stop is queued with its step interrupted, and the next run completes it', async () => {
    const job = await createSlow();
    const runner = service.runner();
    await runner.start();
    await waitUntil(
      async () => (await app.client.jobs.get.query({ id: job.id })).steps.some((s) => s.status === 'in-progress'),
      20_000,
      'a step to be in progress',
    );
    await runner.stop(0);

    const released = await app.client.jobs.get.query({ id: job.id });
    expect(released.status).toBe('queued');
    expect(released.steps.map((s) => s.status)).not.toContain('in-progress');
    const interrupted = released.steps.filter((s) => s.status === 'interrupted');
    expect(interrupted).toHaveLength(1);
    expect(interrupted[0]!.finishedAt).toBeInstanceOf(Date);

    // The next run says so until it reaches that step again, then finishes every step.
    await service.runner().drain();
    const done = await app.client.jobs.get.query({ id: job.id });
    expect(done.status).toBe('succeeded');
    expect(done.steps.map((s) => s.status)).toEqual(done.steps.map(() => 'success'));
  });

  it('a job whose worker died shows the step interrupted once it is released, or taken over', async () => {
    const job = await createSlow();
    // A worker that claimed the job, started its first step, then died: its lease has run out.
    const past = new Date(Date.now() - 60_000);
    const steps = (await app.client.jobs.get.query({ id: job.id })).steps.map((s, i) =>
      i === 0 ? { ...s, status: 'in-progress', startedAt: past } : s,
    );
    const dead = async () =>
      service.database.db.query(
        `UPDATE jobs SET status = 'running', locked_by = 'dead-worker', locked_until = $2, steps = $3 WHERE id = $1`,
        [job.id, past, JSON.stringify(steps)],
      );

    // Released by the scheduler's recovery tick:
    await dead();
    expect((await releaseExpiredLeases(service.deps)).jobs).toBe(1);
    const released = await app.client.jobs.get.query({ id: job.id });
    expect(released.status).toBe('queued');
    expect(released.steps[0]!.status).toBe('interrupted');

    // Or taken over directly by another worker's claim:
    await dead();
    const [claimed] = await new JobRepository(service.database.db).claim({
      workerId: 'w2',
      limit: 1,
      leaseMs: 10_000,
      now: new Date(),
      excludeProviders: [],
    });
    expect(claimed!.id).toBe(job.id);
    expect(claimed!.steps[0]!.status).toBe('interrupted');
    expect(claimed!.steps.map((s) => s.status)).not.toContain('in-progress');
  });
});
