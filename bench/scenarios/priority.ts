import pg from 'pg';
import { sweepDueRefreshes } from '../../src/scheduler/refresh.sweep.ts';
import { inProcessService } from '../lib/in-process.ts';
import { startProcess, waitUntil } from '../lib/process.ts';
import { percentile, round, type Scenario } from '../lib/types.ts';

/**
 * Priority: 10,000 scheduled refreshes queued (1,000 with --quick) (by the refresh sweep itself), a worker process busy with them, and
 * then users creating connections one after another. Measured: the time from calling connections.create to its
 * job starting. A user's job goes before every scheduled one, so it should wait for one free slot at most.
 */
export const priority: Scenario = async (ctx) => {
  const queued = ctx.quick ? 1_000 : 10_000;
  const trials = ctx.quick ? 10 : 40;
  // The ratios' names say how many were queued: a quick run queues a tenth of the full run's 10,000.
  const label = queued.toLocaleString('en');
  const db = await ctx.database('priority');
  const service = await inProcessService(db.url, ctx.credentialKeysEnv);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const worker = startProcess('src/main.ts', {
    ROLES: 'worker',
    DATABASE_URL: db.url,
    CREDENTIALS_KEYS: ctx.credentialKeysEnv,
    WORKER_CONCURRENCY: '4',
    PROVIDER_CONCURRENCY: '4',
    LOG_LEVEL: 'info',
  });
  try {
    const { app } = await service.services.apps.create('priority-bench');
    ctx.log(`priority: ${queued} connections due for their scheduled refresh`);
    // finAPI's demo bank needs no credentials: the scheduled refreshes are real sandbox imports.
    await client.query(
      `INSERT INTO connections (id, app_id, user_id, institution_id, method, service_provider, status, state, version, connected_at, next_refresh_at)
       SELECT gen_random_uuid(), $1, 'scheduled-' || g, 'DE00000', 'built-in', 'sandbox', 'ACTIVE', 'completed-up-to-date', 1, now(), now() - interval '1 minute'
       FROM generate_series(1, $2) g`,
      [app.id, queued],
    );
    const swept = await sweepDueRefreshes(service.deps, { batchSize: 5_000, maxBatches: 100 });
    ctx.log(`priority: the sweep queued ${swept.queued} scheduled refreshes`);
    await worker.waitFor(/job worker started/);
    await waitUntil(
      async () => (await client.query(`SELECT count(*)::int AS n FROM jobs WHERE status = 'running'`)).rows[0].n > 0,
      60_000,
      'the worker to get busy',
    );

    const waits: number[] = [];
    for (let i = 0; i < trials; i++) {
      const t0 = Date.now();
      const { job } = await service.services.connections.create(app.id, { userId: `user-${i}`, institutionId: 'DE00000' });
      let started: Date | null = null;
      await waitUntil(
        async () => {
          started = (await client.query(`SELECT started_at FROM jobs WHERE id = $1`, [job.id])).rows[0].started_at as Date | null;
          return started !== null;
        },
        60_000,
        'the user job to start',
        5,
      );
      waits.push(started!.getTime() - t0);
    }
    const {
      rows: [left],
    } = await client.query(`SELECT count(*)::int AS n FROM jobs WHERE status = 'queued' AND priority > 0`);
    const sorted = [...waits].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    ctx.log(`priority: user job start p50 ${p50} ms, p99 ${p99} ms, with ${left.n} scheduled still queued`);
    return {
      id: 'priority',
      title: '7. Priority',
      rows: [
        {
          'scheduled refreshes queued': swept.queued,
          'still queued after the trials': left.n,
          'user creates': trials,
          'start p50 (ms)': round(p50, 0),
          'start p99 (ms)': round(p99, 0),
          'start max (ms)': round(sorted.at(-1)!, 0),
        },
      ],
      ratios: [
        { name: `priority: user job start p50 (s), ${label} scheduled queued`, value: p50 / 1000, target: { op: '<=', value: 1 } },
        { name: `priority: user job start p99 (s), ${label} scheduled queued`, value: p99 / 1000 },
      ],
      latencies: [{ label: `user job start with ${label} scheduled refreshes queued`, samplesMs: sorted }],
      peakRssMb: { 'priority (worker process)': worker.peakRssMb() ?? 0 },
      notes: [
        "One worker process with 4 slots, all busy with scheduled refreshes (sandbox imports of finAPI's demo bank) when each user creates a connection; the time is from calling connections.create to the job's startedAt.",
      ],
    };
  } finally {
    await worker.stop();
    await client.end();
    await service.close();
  }
};
