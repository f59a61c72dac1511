import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inProcessService } from '../lib/in-process.ts';
import { startProcess, waitUntil, type BenchProcess } from '../lib/process.ts';
import { round, type Scenario } from '../lib/types.ts';

/**
 * 5. Refresh end to end: connections of the sandbox's "medium" user (10 accounts × ~200 transactions) imported by
 * 1, 2 and 4 worker processes (`ROLES=worker npm start`), the provider in process. The clock starts when the jobs
 * are committed (the workers are already up and idle) and stops when the last one succeeded.
 */
export const refresh: Scenario = async (ctx) => {
  const perRun = ctx.quick ? 8 : 40;
  const rows: Record<string, string | number>[] = [];
  const rss: number[] = [];
  const rates = new Map<number, number>();
  for (const workers of [1, 2, 4]) {
    const db = await ctx.database(`refresh_${workers}`);
    const service = await inProcessService(db.url, ctx.credentialKeysEnv);
    const { app } = await service.services.apps.create('refresh-bench');
    const procs: BenchProcess[] = [];
    try {
      for (let i = 0; i < workers; i++) {
        procs.push(
          startProcess('src/main.ts', {
            ROLES: 'worker',
            DATABASE_URL: db.url,
            CREDENTIALS_KEYS: ctx.credentialKeysEnv,
            WORKER_CONCURRENCY: '4',
            PROVIDER_CONCURRENCY: '4',
            LOG_LEVEL: 'info',
          }),
        );
      }
      await Promise.all(procs.map((p) => p.waitFor(/job worker started/)));
      ctx.log(`refresh: ${workers} worker process(es) up; queuing ${perRun} imports`);
      const t0 = performance.now();
      // One transaction per connection, as the API does; the jobs are claimable as soon as each commits.
      await Promise.all(
        Array.from({ length: perRun }, (_, i) =>
          service.services.connections.create(app.id, {
            userId: `bench-${i}`,
            institutionId: 'AU00000',
            credentials: { loginId: 'medium', password: randomUUID() },
          }),
        ),
      );
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      let lastLog = 0;
      await waitUntil(
        async () => {
          const {
            rows: [r],
          } = await client.query(
            `SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM jobs`,
          );
          if (r.failed > 0) throw new Error(`${r.failed} refresh jobs failed`);
          if (Date.now() - lastLog > 5_000) {
            lastLog = Date.now();
            ctx.log(`refresh: ${r.done}/${perRun} done`);
          }
          return r.done === perRun;
        },
        600_000,
        'imports to finish',
        50,
      );
      const seconds = (performance.now() - t0) / 1000;
      const {
        rows: [counts],
      } = await client.query(
        `SELECT (SELECT count(*) FROM accounts)::int AS accounts, (SELECT count(*) FROM transactions)::int AS transactions`,
      );
      await client.end();
      for (const p of procs) rss.push(p.peakRssMb() ?? 0);
      const written = counts.accounts + counts.transactions;
      rates.set(workers, perRun / seconds);
      rows.push({
        'worker processes': workers,
        connections: perRun,
        'rows written': written,
        seconds: round(seconds, 2),
        'connections/s': round(perRun / seconds, 2),
        'rows/s': round(written / seconds, 0),
        'peak RSS per worker (MB)': round(Math.max(...procs.map((p) => p.peakRssMb() ?? 0)), 0),
      });
      ctx.log(`refresh: ${workers} worker(s): ${perRun} connections, ${written} rows in ${seconds.toFixed(1)} s`);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await service.close();
    }
  }
  return {
    id: 'refresh',
    title: '5. Refresh end to end',
    rows,
    ratios: [
      { name: 'refresh: 2 workers / 1 worker (connections/s)', value: rates.get(2)! / rates.get(1)! },
      { name: 'refresh: 4 workers / 1 worker (connections/s)', value: rates.get(4)! / rates.get(1)! },
    ],
    peakRssMb: { 'refresh (worker process)': Math.max(...rss) },
    notes: [
      'Each worker process runs 4 jobs at once (WORKER_CONCURRENCY=4). PostgreSQL runs on the same machine, so on few cores more processes compete with it for CPU.',
      'Rows written = accounts + transactions inserted; each import also writes its job steps, dataset state and events in the same transactions.',
    ],
  };
};
