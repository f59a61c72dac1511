import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { sweepDueRefreshes } from '../../src/scheduler/refresh.sweep.ts';
import { connectionInput, createTestApp, insertConnections, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// Someone waiting on their own job goes before the scheduler's refreshes, however many of those are queued.

const clock = new ManualClock('2026-06-01T09:00:00.000Z');
let service: TestService;
let app: TestApp;

beforeAll(async () => {
  service = await startTestService({ clock });
  app = await createTestApp(service);
});
afterAll(() => service.close());

describe('job priority', () => {
  it("with 500 scheduled refreshes queued first, a user's create, challenge answer and manual refresh are each the next job claimed", async () => {
    const ids = await insertConnections(service, app.id, 500, { status: 'ACTIVE' });
    await service.database.db.query(
      `UPDATE connections SET state = 'completed-up-to-date', connected_at = $2, next_refresh_at = $2 WHERE id = ANY($1::uuid[])`,
      [ids, new Date(clock.now().getTime() - 60_000)],
    );
    expect((await sweepDueRefreshes(service.deps, { batchSize: 500, maxBatches: 1 })).queued).toBe(500);
    clock.advance(1_000); // the user comes after every one of them

    const jobs = service.database.db;
    const nextClaimed = async () => {
      clock.advance(1_000); // so the claim just made is the latest start
      const runner = service.runner({ concurrency: 1 });
      await runner.runOnce();
      const [row] = await jobs.query(`SELECT id, priority FROM jobs WHERE attempts > 0 ORDER BY updated_at DESC LIMIT 1`);
      return row as { id: string; priority: number };
    };

    const created = await app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'challenge', password: 'pw' } }));
    expect(await nextClaimed()).toMatchObject({ id: created.job!.id, priority: 0 });
    // The challenge answer re-queues it: claimed next again.
    await app.client.jobs.answerChallenge.mutate({ id: created.job!.id, response: '123456' });
    const resumed = await nextClaimed();
    expect(resumed.id).toBe(created.job!.id);

    const [{ n }] = await jobs.query(`SELECT count(*)::int AS n FROM jobs WHERE status = 'queued' AND priority = 10`);
    expect(n).toBe(500); // not one scheduled refresh ran in between

    // A manual refresh of a connection whose scheduled refresh is queued: the user now waits on that job.
    const refresh = await app.client.connections.refresh.mutate({ id: ids[499]! });
    expect(refresh.alreadyRunning).toBe(true);
    expect(await nextClaimed()).toMatchObject({ id: refresh.job.id, priority: 0 });
  });
});
