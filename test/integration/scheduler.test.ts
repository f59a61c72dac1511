import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { SCHEDULES, type ScheduleName } from '../../src/scheduler/schedules.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { runUntilSettled, startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver } from '../helpers/webhook-receiver.ts';

// The scheduler's ticks over simulated days: an injected clock, ticks run the way node-cron would run them (every
// 30 simulated minutes here), jobs run by a real runner against the sandbox.

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const STEP = 30 * MIN;

function schedulerFor(service: TestService): Scheduler {
  const patterns = Object.fromEntries(Object.entries(SCHEDULES).map(([n, s]) => [n, s.pattern])) as Record<ScheduleName, string>;
  return new Scheduler(service.deps, service.services, {
    patterns,
    sweepBatchSize: 25,
    sweepMaxBatches: 100,
    consentWarningDays: 7,
    eventRetentionMs: 30 * DAY,
    attemptRetentionMs: 30 * DAY,
    jobRetentionMs: 30 * DAY,
  });
}

async function refreshJobs(service: TestService, connectionId: string): Promise<Date[]> {
  const rows: { run_at: Date }[] = await service.database.db.query(
    `SELECT run_at FROM jobs WHERE connection_id = $1 AND kind = 'refresh' ORDER BY run_at`,
    [connectionId],
  );
  return rows.map((r) => new Date(r.run_at));
}

describe('automatic refresh over simulated days', () => {
  let service: TestService;
  let clock: ManualClock;
  let runner: JobRunner;
  let scheduler: Scheduler;
  let app: TestApp;

  beforeAll(async () => {
    clock = new ManualClock('2026-04-01T00:00:00.000Z');
    service = await startTestService({ clock });
    runner = service.runner();
    scheduler = schedulerFor(service);
    app = await createTestApp(service);
  });
  afterAll(() => service.close());

  /** Moves the clock in 30-minute steps, sweeping and running what was queued at each step, as cron would. */
  async function live(ms: number, onStep?: () => Promise<void>) {
    for (let t = 0; t < ms; t += STEP) {
      clock.advance(STEP);
      await scheduler.run('refreshSweep');
      await runUntilSettled(service, runner, clock);
      await onStep?.();
    }
  }

  it(
    'a fleet created together is spread by jitter and refreshed exactly once per interval; failing ones back off; those needing the user are skipped',
    { timeout: 120_000 },
    async () => {
      const create = (loginId: string) =>
        app.client.connections.create.mutate(connectionInput({ datasets: ['USER_INFO'], credentials: { loginId, password: 'pw' } }));
      const fleet = await Promise.all(Array.from({ length: 30 }, (_, i) => create(`fleet-${i}`)));
      const failing = await create('outage');
      const needsUser = await create('needs-user');
      const manualOnly = await app.client.connections.create.mutate(connectionInput({ datasets: ['USER_INFO'], autoRefresh: false }));
      await runUntilSettled(service, runner, clock);
      const importedAt = clock.now().getTime();

      // Jitter: first schedules spread over the last 10% of the interval, not all at one instant.
      const firsts = await Promise.all(
        fleet.map(async (f) => (await app.client.connections.get.query({ id: f.connection.id })).nextRefreshAt!.getTime()),
      );
      expect(Math.min(...firsts)).toBeGreaterThanOrEqual(importedAt + 0.9 * DAY - 1);
      expect(Math.max(...firsts)).toBeLessThanOrEqual(importedAt + DAY);
      expect(new Set(firsts).size).toBeGreaterThan(25);
      expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(HOUR);

      // The user's credentials go bad on day 2 (the update job fails: user action needed).
      let brokeAt = 0;
      await live(10 * DAY + HOUR, async () => {
        if (!brokeAt && clock.now().getTime() >= importedAt + 1.5 * DAY) {
          brokeAt = clock.now().getTime();
          await app.client.connections.update.mutate({
            id: needsUser.connection.id,
            credentials: { loginId: 'needs-user', password: 'wrong' },
          });
          await runUntilSettled(service, runner, clock);
        }
      });

      // Every healthy connection: one refresh per day, 24 h apart (to the 30-minute tick), ten in ten days.
      for (const f of fleet) {
        const runs = await refreshJobs(service, f.connection.id);
        expect(runs).toHaveLength(10);
        for (let i = 1; i < runs.length; i++) {
          const gap = runs[i]!.getTime() - runs[i - 1]!.getTime();
          expect(Math.abs(gap - DAY)).toBeLessThanOrEqual(STEP);
        }
      }
      const [{ dupes }] = await service.database.db.query(
        `SELECT count(*)::int AS dupes FROM (SELECT connection_id FROM jobs WHERE status IN ('queued','running') GROUP BY 1 HAVING count(*) > 1) d`,
      );
      expect(dupes).toBe(0);

      // The failing connection: waits 1, 2, 4 … intervals between tries.
      const failingRuns = await refreshJobs(service, failing.connection.id);
      const gaps = failingRuns.slice(1).map((t, i) => (t.getTime() - failingRuns[i]!.getTime()) / DAY);
      expect(gaps.length).toBeGreaterThanOrEqual(2);
      expect(gaps.length).toBeLessThan(5);
      expect(gaps[0]).toBeCloseTo(1, 0);
      expect(gaps[1]).toBeCloseTo(2, 0);
      if (gaps[2] !== undefined) expect(gaps[2]).toBeCloseTo(4, 0);
      const failingView = await app.client.connections.get.query({ id: failing.connection.id });
      expect(failingView).toMatchObject({ status: 'ACTIVE', userActionRequired: false });
      expect(failingView.consecutiveFailures).toBe(failingRuns.length);

      // Needs the user: no automatic refresh after its credentials went bad, until new ones are given.
      expect((await refreshJobs(service, needsUser.connection.id)).every((t) => t.getTime() < brokeAt)).toBe(true);
      expect(await refreshJobs(service, manualOnly.connection.id)).toHaveLength(0);
      await app.client.connections.update.mutate({ id: needsUser.connection.id, credentials: { loginId: 'needs-user', password: 'good' } });
      await runUntilSettled(service, runner, clock);
      const fixedAt = clock.now().getTime();
      await live(1.5 * DAY);
      const after = (await refreshJobs(service, needsUser.connection.id)).filter((t) => t.getTime() > fixedAt);
      expect(after).toHaveLength(1);
    },
  );
});

describe('consent expiry over simulated days', () => {
  let service: TestService;
  let clock: ManualClock;
  let scheduler: Scheduler;
  let app: TestApp;

  beforeAll(async () => {
    clock = new ManualClock('2026-04-01T00:00:00.000Z');
    service = await startTestService({ clock });
    scheduler = schedulerFor(service);
    app = await createTestApp(service);
  });
  afterAll(() => service.close());

  it('warns once, N days before, and flips the status to EXPIRED with an event when the consent passes', { timeout: 60_000 }, async () => {
    const receiver = await startWebhookReceiver();
    const { secret } = await app.client.webhooks.endpoints.create.mutate({
      url: receiver.url,
      eventTypes: ['connection.consent_expiring', 'connection.status_changed'],
    });
    receiver.secrets = [secret];
    const { connection } = await app.client.connections.create.mutate(connectionInput({ datasets: ['USER_INFO'], autoRefresh: false }));
    await runUntilSettled(service, service.runner(), clock);
    const expiresAt = (await app.client.connections.get.query({ id: connection.id })).consentExpiresAt!;
    expect(expiresAt.getTime()).toBeGreaterThan(clock.now().getTime() + 300 * DAY);

    const warnings = async () => (await app.client.events.list.query({ types: ['connection.consent_expiring'], limit: 100 })).items;
    clock.set(new Date(expiresAt.getTime() - 7 * DAY - HOUR));
    await scheduler.run('consentSweep');
    expect(await warnings()).toHaveLength(0);
    // Hourly ticks through the warning window: one warning, however many ticks.
    for (let i = 0; i < 48; i++) {
      clock.advance(HOUR);
      await scheduler.run('consentSweep');
    }
    const [warning] = await warnings();
    expect(await warnings()).toHaveLength(1);
    expect(warning).toMatchObject({ connectionId: connection.id, data: { daysLeft: 7 } });
    expect((await app.client.connections.get.query({ id: connection.id })).status).toBe('ACTIVE');

    clock.set(new Date(expiresAt.getTime() + MIN));
    await scheduler.run('consentSweep');
    await scheduler.run('consentSweep');
    const expired = await app.client.connections.get.query({ id: connection.id });
    expect(expired).toMatchObject({ status: 'EXPIRED', userActionRequired: true, error: { code: 'consent-expired' } });
    const changes = (await app.client.events.list.query({ connectionId: connection.id, types: ['connection.status_changed'], limit: 100 }))
      .items;
    expect(changes.map((e) => [e.data.previousStatus, e.data.status])).toEqual([
      ['INITIATED', 'ACTIVE'],
      ['ACTIVE', 'EXPIRED'],
    ]);
    expect(await warnings()).toHaveLength(1);

    // Both reach a subscriber, signed.
    await service.deliveryWorker().drain();
    try {
      await receiver.waitFor((all) => all.filter((r) => r.verified && r.status === 204).length === 3);
      expect(receiver.received.map((r) => r.type).sort()).toEqual([
        'connection.consent_expiring',
        'connection.status_changed',
        'connection.status_changed',
      ]);
    } finally {
      await receiver.close();
    }
  });
});
