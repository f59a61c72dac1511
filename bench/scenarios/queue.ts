/**
 * Queue throughput: N no-op jobs through our claim/complete path (JobRepository.claim, then a fenced UPDATE to
 * 'succeeded' per job in its own transaction, as SyncExecution.finish does, through applyJobTransition) against pg-boss 10 on the same database,
 * with the same number of workers, the same claim batch size and the same connection pool size. Rounds alternate
 * (ours, pg-boss, ours, pg-boss) and each is re-seeded first; the table reports the median of each system.
 */
import PgBoss from 'pg-boss';
import type { DataSource } from 'typeorm';
import { Institution, type Job } from '../../entities/index.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import { seededInstitutions } from '../../src/institutions/institution.seed.ts';
import { JobRepository } from '../../src/jobs/job.repository.ts';
import { applyJobTransition } from '../../src/jobs/job.transitions.ts';
import { round, type Scenario } from '../lib/types.ts';

/** Concurrent workers on each side. */
const WORKERS = 16;
/**
 * Jobs one worker claims (ours) or fetches (pg-boss) at a time. Both sizes are run: pg-boss's throughput depends on
 * it (its workers sleep out their polling interval after every fetch), and the headline ratio is the worse of the two.
 */
const BATCHES = [10, 50];
/** Database connections each system may use (one per worker). */
const POOL = WORKERS;
/** pg-boss's polling interval; 0.5 s is the smallest it accepts. */
const PGBOSS_POLL_SECONDS = 0.5;
const PGBOSS_SCHEMA = 'pgboss';
/** The lease our workers take, as the runner's default. */
const LEASE_MS = 30_000;
/** How often the pg-boss side asks whether all its jobs are done (the end time itself comes from completed_on). */
const PROBE_MS = 25;
const INSTITUTION_ID = 'AU00000';

export const queue: Scenario = async (ctx) => {
  const n = ctx.quick ? 2_000 : 20_000;
  const rounds = ctx.quick ? 1 : 2;
  const { url } = await ctx.database('queue');

  const db = createDataSource({ url, poolSize: POOL, applicationName: 'bench-queue' });
  await db.initialize();
  let boss: PgBoss | null = null;
  const bossErrors: string[] = [];
  try {
    ctx.log(`queue: seeding an app and ${n} connections`);
    const appId = await seedConnections(db, n);

    boss = new PgBoss({
      connectionString: url,
      schema: PGBOSS_SCHEMA,
      max: POOL,
      application_name: 'bench-queue-pgboss',
      // Only the queue under test: no maintenance, monitoring or cron timers running beside it.
      supervise: false,
      schedule: false,
    });
    boss.on('error', (error) => {
      if (bossErrors.length < 20) bossErrors.push(error.message);
    });
    await boss.start();

    const rows: Record<string, string | number>[] = [];
    const ratios: number[] = [];
    for (const batch of BATCHES) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let r = 1; r <= rounds; r++) {
        await seedOurJobs(db, appId, n);
        await settle(db, 'jobs');
        ctx.log(`queue: batch ${batch}, round ${r}/${rounds}: connections service, ${n} jobs`);
        const a = await runOurs(db, n, batch);
        ours.push(a);
        ctx.log(`queue: batch ${batch}, round ${r}/${rounds}: connections service ${round(a, 0)} jobs/s`);

        const name = `bench-noop-${batch}-${r}`;
        await seedPgBoss(boss, name, n);
        await settle(db, `${PGBOSS_SCHEMA}.job`);
        ctx.log(`queue: batch ${batch}, round ${r}/${rounds}: pg-boss, ${n} jobs`);
        const b = await runPgBoss(boss, db, name, n, batch);
        theirs.push(b);
        ctx.log(`queue: batch ${batch}, round ${r}/${rounds}: pg-boss ${round(b, 0)} jobs/s`);
      }
      const row = (system: string, perRound: number[]) => {
        const out: Record<string, string | number> = { system, batch, jobs: n, 'jobs/s': round(median(perRound), 0) };
        perRound.forEach((v, i) => (out[`round ${i + 1}`] = round(v, 0)));
        return out;
      };
      rows.push(row('connections service', ours), row('pg-boss 10.4', theirs));
      ratios.push(median(ours) / median(theirs));
    }
    if (bossErrors.length) ctx.log(`queue: pg-boss reported errors: ${bossErrors.join('; ')}`);

    return {
      id: 'queue',
      title: `Queue: ${n.toLocaleString('en')} no-op jobs, connections service vs pg-boss 10 (jobs/s)`,
      rows,
      ratios: [
        ...BATCHES.map((b, i) => ({ name: `queue: service / pg-boss at batch ${b} (jobs/s)`, value: round(ratios[i]!, 2) })),
        {
          name: 'queue: service / pg-boss, the worse batch size (jobs/s)',
          value: round(Math.min(...ratios), 2),
          target: { op: '>=', value: 1.0 },
        },
      ],
      notes: [
        `Both systems in this process against the same PostgreSQL database, ${WORKERS} concurrent workers each, claim batch ${BATCHES.join(' and ')} jobs, a pool of ${POOL} connections each; rounds alternate (service, pg-boss${rounds > 1 ? ', service, pg-boss' : ''}), each re-seeded with ${n} queued jobs (not timed) and followed by ANALYZE and CHECKPOINT; jobs/s is the median over ${rounds} round${rounds > 1 ? 's' : ''}.`,
        `Connections service: each worker loops JobRepository.claim({ limit: batch, leaseMs: ${LEASE_MS}, excludeProviders: [] }) (the runner's FOR UPDATE SKIP LOCKED claim plus its entity load), then completes every claimed job at once, each in its own transaction with applyJobTransition's succeed (the fenced write SyncExecution.finish makes), until a claim comes back empty. The no-op run skips the rest of a real run: the job-started and step updates, lease renewal, the connection's lifecycle transition and the job event that finish writes in the same transaction.`,
        `pg-boss ${PGBOSS_SCHEMA} schema, standard queue, jobs bulk-inserted with insert(); ${WORKERS} × work(name, { batchSize, pollingIntervalSeconds: ${PGBOSS_POLL_SECONDS} }, no-op handler) (0.5 s is pg-boss's minimum interval); supervise and schedule off, so no maintenance runs during a round. A pg-boss worker waits out the rest of its polling interval after every fetch, even a full one, so its ceiling is about ${WORKERS} × batch / ${PGBOSS_POLL_SECONDS} s and grows with the batch size (our workers claim again at once); its completions are one UPDATE per batch, ours one transaction per job.`,
        `Time runs from starting the workers to the last completion: for the service, when the last fenced UPDATE commits; for pg-boss, the latest completed_on in its job table (polled every ${PROBE_MS} ms until nothing is left below 'completed').`,
      ],
    };
  } finally {
    await boss?.stop({ graceful: false, wait: true, close: true }).catch(() => {});
    if (db.isInitialized) await db.destroy();
  }
};

/** One app, the sandbox institution, and n connections: each job needs its own (one active job per connection). */
async function seedConnections(db: DataSource, n: number): Promise<string> {
  await db.getRepository(Institution).upsert(
    seededInstitutions('http://127.0.0.1:1').filter((i) => i.id === INSTITUTION_ID),
    { conflictPaths: ['id'] },
  );
  const [app]: { id: string }[] = await db.query(
    `INSERT INTO applications (name, api_key_hash, api_key_prefix)
     VALUES ('bench-queue', encode(sha256(gen_random_uuid()::text::bytea), 'hex'), 'bench')
     RETURNING id`,
  );
  await db.query(
    `INSERT INTO connections (id, app_id, user_id, institution_id, method, service_provider, status, state, version)
     SELECT gen_random_uuid(), $1, 'bench-user', $2, 'built-in', 'sandbox', 'INITIATED', 'pending', 1 FROM generate_series(1, $3)`,
    [app!.id, INSTITUTION_ID, n],
  );
  return app!.id;
}

/** A fresh queue: n queued refresh jobs, one per connection. */
async function seedOurJobs(db: DataSource, appId: string, n: number): Promise<void> {
  await db.query(`TRUNCATE jobs`);
  await db.query(
    `INSERT INTO jobs (app_id, connection_id, kind, provider_key, institution_id, status, steps, run_at)
     SELECT app_id, id, 'refresh', 'sandbox', institution_id, 'queued', '[]'::jsonb, now() FROM connections WHERE app_id = $1`,
    [appId],
  );
  const [{ count }] = (await db.query(`SELECT count(*) FROM jobs WHERE status = 'queued'`)) as [{ count: string }];
  if (Number(count) !== n) throw new Error(`queue: seeded ${count} jobs, expected ${n}`);
}

async function seedPgBoss(boss: PgBoss, name: string, n: number): Promise<void> {
  await boss.createQueue(name);
  for (let i = 0; i < n; i += 5_000) {
    await boss.insert(Array.from({ length: Math.min(5_000, n - i) }, () => ({ name, data: {} })));
  }
  const size = await boss.getQueueSize(name);
  if (size !== n) throw new Error(`queue: pg-boss queue ${name} holds ${size} jobs, expected ${n}`);
}

/** Fresh statistics and no checkpoint pending from the seeding, so neither side pays for the other's writes. */
async function settle(db: DataSource, table: string): Promise<void> {
  await db.query(`ANALYZE ${table}`);
  await db.query('CHECKPOINT').catch(() => {}); // needs superuser or pg_checkpoint; best effort
}

/** Our workers claim and complete until the queue is empty; returns jobs/s. */
async function runOurs(db: DataSource, n: number, batch: number): Promise<number> {
  const repo = new JobRepository(db);
  let done = 0;
  let lastDoneAt = 0;
  const complete = (job: Job, workerId: string) =>
    db.transaction(async (m) => {
      const now = new Date();
      await applyJobTransition(m, job, { type: 'succeed', steps: job.steps }, now, workerId);
    });
  const worker = async (i: number) => {
    const workerId = `bench-queue:${process.pid}:${i}`;
    for (;;) {
      const jobs = await repo.claim({ workerId, limit: batch, leaseMs: LEASE_MS, now: new Date(), excludeProviders: [] });
      if (jobs.length === 0) return;
      await Promise.all(jobs.map((job) => complete(job, workerId)));
      done += jobs.length;
      lastDoneAt = performance.now();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)));
  const [{ count }] = (await db.query(`SELECT count(*) FROM jobs WHERE status = 'succeeded'`)) as [{ count: string }];
  if (done !== n || Number(count) !== n) throw new Error(`queue: the service completed ${done} jobs (${count} succeeded), expected ${n}`);
  return n / ((lastDoneAt - started) / 1000);
}

/** pg-boss workers with a no-op handler until every job is completed; returns jobs/s. */
async function runPgBoss(boss: PgBoss, db: DataSource, name: string, n: number, batch: number): Promise<number> {
  const startedAt = Date.now();
  await Promise.all(
    Array.from({ length: WORKERS }, () =>
      boss.work(name, { batchSize: batch, pollingIntervalSeconds: PGBOSS_POLL_SECONDS }, async () => {}),
    ),
  );
  const deadline = startedAt + 30 * 60_000;
  while ((await boss.getQueueSize(name, { before: 'completed' })) > 0) {
    if (Date.now() > deadline) throw new Error(`queue: pg-boss did not finish ${name} in 30 minutes`);
    await new Promise((r) => setTimeout(r, PROBE_MS));
  }
  await boss.offWork(name);
  const [row]: { completed: string; last_ms: string }[] = await db.query(
    `SELECT count(*) FILTER (WHERE state = 'completed') AS completed, extract(epoch FROM max(completed_on)) * 1000 AS last_ms
     FROM ${PGBOSS_SCHEMA}.job WHERE name = $1`,
    [name],
  );
  if (Number(row!.completed) !== n) throw new Error(`queue: pg-boss completed ${row!.completed} jobs, expected ${n}`);
  return n / ((Number(row!.last_ms) - startedAt) / 1000);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
