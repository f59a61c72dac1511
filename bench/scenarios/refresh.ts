import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inProcessService } from '../lib/in-process.ts';
import { startProcess, waitUntil, type BenchProcess } from '../lib/process.ts';
import { runRefreshFloor, sandboxImport } from '../lib/refresh-floor.ts';
import { round, type BenchContext, type Scenario } from '../lib/types.ts';

const WORKER_PROCESSES = [1, 2, 4];
/** Jobs each worker process runs at once; the floor writes as many connections at once as all workers together. */
const WORKER_CONCURRENCY = 4;
const INSTITUTION = 'AU00000';
/** inProcessService's pool size (bench/lib/in-process.ts). */
const IN_PROCESS_POOL = 8;
/** The sandbox's "medium" user: 10 accounts × ~200 transactions. */
const CREDENTIALS = { loginId: 'medium', password: 'bench' };

interface Run {
  seconds: number;
  rows: number;
}

/**
 * 5. Refresh end to end: connections of the sandbox's "medium" user (10 accounts × ~200 transactions) imported by
 * 1, 2 and 4 worker processes (`ROLES=worker npm start`), the provider in process. The clock starts when the jobs
 * are committed (the workers are already up and idle) and stops when the last one succeeded. Against the floor:
 * a bare pg loop writing the same rows for as many connections, at the same concurrency (bench/lib/refresh-floor.ts).
 * Rounds alternate service, floor, each on a fresh database.
 */
export const refresh: Scenario = async (ctx) => {
  const perRun = ctx.quick ? 8 : 40;
  const rounds = ctx.quick ? 1 : 2;
  const rows: Record<string, string | number>[] = [];
  const rss: number[] = [];
  const serviceRate = new Map<number, number>();
  const floorRate = new Map<number, number>();
  const connectionsRate = new Map<number, number>();
  for (const workers of WORKER_PROCESSES) {
    const concurrency = workers * WORKER_CONCURRENCY;
    const service: Run[] = [];
    const floor: Run[] = [];
    for (let r = 1; r <= rounds; r++) {
      const s = await serviceRun(ctx, workers, perRun, rss);
      service.push(s);
      ctx.log(
        `refresh: ${workers} worker(s), round ${r}/${rounds}: service ${s.rows} rows in ${s.seconds.toFixed(2)} s (${round(s.rows / s.seconds, 0)} rows/s)`,
      );
      const f = await floorRun(ctx, concurrency, perRun);
      floor.push(f);
      ctx.log(
        `refresh: ${workers} worker(s), round ${r}/${rounds}: floor ${f.rows} rows in ${f.seconds.toFixed(2)} s (${round(f.rows / f.seconds, 0)} rows/s)`,
      );
      if (f.rows !== s.rows) throw new Error(`the floor wrote ${f.rows} rows, the service ${s.rows}: they must write the same rows`);
    }
    const rate = (runs: Run[]) => median(runs.map((x) => x.rows / x.seconds));
    serviceRate.set(workers, rate(service));
    floorRate.set(workers, rate(floor));
    connectionsRate.set(workers, median(service.map((x) => perRun / x.seconds)));
    for (const [system, runs] of [
      [`connections service (${workers} worker process${workers > 1 ? 'es' : ''})`, service],
      ['floor (bare pg loop)', floor],
    ] as const) {
      rows.push({
        system,
        concurrency,
        connections: perRun,
        'rows written': runs[0]!.rows,
        'seconds by round': runs.map((x) => round(x.seconds, 2)).join(', '),
        'rows/s': round(rate(runs), 0),
        'connections/s': round(median(runs.map((x) => perRun / x.seconds)), 2),
      });
    }
  }
  const ratios = WORKER_PROCESSES.map((w) => serviceRate.get(w)! / floorRate.get(w)!);
  return {
    id: 'refresh',
    title: '5. Refresh end to end',
    rows,
    ratios: [
      ...WORKER_PROCESSES.map((w, i) => ({
        name: `refresh: service / floor at ${w} worker process${w > 1 ? 'es' : ''} (${w * WORKER_CONCURRENCY} at once) (rows/s)`,
        value: round(ratios[i]!, 3),
      })),
      {
        name: 'refresh: service / floor, the worst worker count (rows/s)',
        value: round(Math.min(...ratios), 3),
        target: { op: '>=', value: 0.5 },
      },
      { name: 'refresh: 2 workers / 1 worker (connections/s)', value: connectionsRate.get(2)! / connectionsRate.get(1)! },
      { name: 'refresh: 4 workers / 1 worker (connections/s)', value: connectionsRate.get(4)! / connectionsRate.get(1)! },
    ],
    peakRssMb: { 'refresh (worker process)': Math.max(...rss) },
    notes: [
      `Each worker process runs ${WORKER_CONCURRENCY} jobs at once (WORKER_CONCURRENCY=${WORKER_CONCURRENCY}); the floor writes ${WORKER_CONCURRENCY} × processes connections at once. PostgreSQL runs on the same machine, so on few cores more processes compete with it for CPU.`,
      'Rows written = accounts + transactions inserted; each import also writes its job steps, dataset state and events in the same transactions. The service time runs from the first connections.create (the workers are up and idle) to the last job succeeded, so it includes the create, the claim, the provider calls (the sandbox computes its data in the worker) and every step transaction.',
      "Floor (bench/lib/refresh-floor.ts): the sandbox provider's own output for the medium user (computed once, before the clock), written for the same number of connections (inserted beforehand, not timed) into a fresh migrated database with the same tables and indexes: per connection one transaction with a multi-row INSERT … ON CONFLICT DO UPDATE of the 10 accounts (RETURNING their ids) and of the transactions, 1,000 rows a statement. No events, jobs or step state.",
      `Rounds alternate service, floor (${rounds} round${rounds > 1 ? 's' : ''} per worker count, each on a fresh database); rows/s is the median over the rounds.`,
    ],
  };
};

/** One import of `perRun` connections by `workers` worker processes, on a fresh database. */
async function serviceRun(ctx: BenchContext, workers: number, perRun: number, rss: number[]): Promise<Run> {
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
          WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
          PROVIDER_CONCURRENCY: '4',
          LOG_LEVEL: 'info',
        }),
      );
    }
    await Promise.all(procs.map((p) => p.waitFor(/job worker started/)));
    ctx.log(`refresh: ${workers} worker process(es) up; queuing ${perRun} imports`);
    const t0 = performance.now();
    // One transaction per connection, as the API does; the jobs are claimable as soon as each commits. As many
    // creates at once as the in-process pool has connections: more would only queue for one, and on a loaded
    // machine the last of 40 queued creates waited past the pool's 10 s acquire timeout.
    let created = 0;
    await Promise.all(
      Array.from({ length: Math.min(perRun, IN_PROCESS_POOL) }, async () => {
        for (let i = created++; i < perRun; i = created++) {
          await service.services.connections.create(app.id, {
            userId: `bench-${i}`,
            institutionId: INSTITUTION,
            credentials: { ...CREDENTIALS, password: randomUUID() },
          });
        }
      }),
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
    return { seconds, rows: counts.accounts + counts.transactions };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await service.close();
  }
}

/** The floor for the same import: `perRun` connections of the medium user written `concurrency` at once. */
async function floorRun(ctx: BenchContext, concurrency: number, perRun: number): Promise<Run> {
  const db = await ctx.database(`refresh_floor_${concurrency}`);
  // The service in process only seeds the institutions and the app, as it does for the service's run.
  const service = await inProcessService(db.url, ctx.credentialKeysEnv);
  const { app } = await service.services.apps.create('refresh-floor');
  await service.close();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let ids: string[];
  try {
    ids = (
      await client.query<{ id: string }>(
        `INSERT INTO connections (id, app_id, user_id, institution_id, method, service_provider, status, state, version, connected_at)
         SELECT gen_random_uuid(), $1, 'bench-' || g, $2, 'built-in', 'sandbox', 'ACTIVE', 'completed-up-to-date', 1, now()
         FROM generate_series(1, $3) g RETURNING id`,
        [app.id, INSTITUTION, perRun],
      )
    ).rows.map((r) => r.id);
  } finally {
    await client.end();
  }
  const now = new Date();
  const data = await sandboxImport(INSTITUTION, CREDENTIALS, ids[0]!, now);
  return runRefreshFloor(
    db.url,
    ids.map((connectionId) => ({ appId: app.id, connectionId })),
    data,
    concurrency,
    now,
  );
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
