import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { startServiceProcess, waitUntil, type ServiceProcess } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// Real worker processes (`ROLES=worker npm start`) against one database: exactly-once claims, and takeover
// after a worker is killed with SIGKILL in the middle of a job.

let service: TestService;
let app: TestApp;
const workers: ServiceProcess[] = [];

const LEASE_MS = 2_000;
const workerEnv = () => ({
  ROLES: 'worker',
  DATABASE_URL: service.database.url,
  CREDENTIALS_KEYS: service.credentialKeysEnv,
  JOB_LEASE_MS: String(LEASE_MS),
  JOB_POLL_MS: '200',
  WORKER_CONCURRENCY: '8',
  PROVIDER_CONCURRENCY: '8',
});
const startWorker = async () => {
  const w = startServiceProcess(workerEnv());
  workers.push(w);
  await w.waitFor(/job worker started/);
  return w;
};

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await service.close();
});

const db = () => service.database.db;

describe('worker processes', () => {
  it('two workers, 500 queued jobs: every job runs exactly once', { timeout: 120_000 }, async () => {
    const ids: string[] = [];
    for (let i = 0; i < 500; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: 25 }, (_, k) =>
          service.services.connections.create(app.id, connectionInput({ userId: `bulk-${i + k}`, datasets: ['USER_INFO'] })),
        ),
      );
      ids.push(...batch.map((b) => b.job.id));
    }
    const [a, b] = await Promise.all([startWorker(), startWorker()]);
    await waitUntil(
      async () =>
        (await db().query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [ids]))[0].n === 500,
      90_000,
      '500 jobs to succeed',
    );
    const [{ claimedOnce, total, runBy }] = await db().query(
      `SELECT count(*) FILTER (WHERE attempts = 1)::int AS "claimedOnce", count(*)::int AS total, count(DISTINCT locked_by)::int AS "runBy"
       FROM jobs WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    expect(total).toBe(500);
    expect(claimedOnce).toBe(500); // each job claimed (and run) once
    expect(runBy).toBe(2); // and both workers took part
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  });

  it(
    'a worker killed with SIGKILL mid-job: another finishes it after the lease, no duplicates, nothing left busy',
    { timeout: 60_000 },
    async () => {
      const { connection, job } = await service.services.connections.create(
        app.id,
        connectionInput({ credentials: { loginId: 'slow', password: 'pw' } }),
      );
      const first = await startWorker();
      // Wait until it is inside the job and has written some data, then kill it without warning.
      await waitUntil(
        async () => {
          const [row] = await db().query(`SELECT steps FROM jobs WHERE id = $1`, [job.id]);
          return row.steps.some(
            (s: { title: string; status: string }) => s.title === 'retrieve-transactions' && s.status === 'in-progress',
          );
        },
        20_000,
        'the job to reach retrieve-transactions',
      );
      const [{ locked_by: firstWorker }] = await db().query('SELECT locked_by FROM jobs WHERE id = $1', [job.id]);
      first.kill('SIGKILL');
      await first.exited;

      const [mid] = await db().query('SELECT status FROM jobs WHERE id = $1', [job.id]);
      expect(mid.status).toBe('running'); // claimed by a dead worker until its lease runs out

      await startWorker();
      await waitUntil(
        async () => (await db().query(`SELECT status FROM jobs WHERE id = $1`, [job.id]))[0].status === 'succeeded',
        30_000,
        'takeover',
      );
      const [done] = await db().query('SELECT attempts, locked_by FROM jobs WHERE id = $1', [job.id]);
      expect(done.attempts).toBe(2);
      expect(done.locked_by).not.toBe(firstWorker);

      const [{ dupes }] = await db().query(
        `SELECT count(*)::int AS dupes FROM (SELECT account_id, provider_transaction_id FROM transactions WHERE connection_id = $1 GROUP BY 1, 2 HAVING count(*) > 1) d`,
        [connection.id],
      );
      expect(dupes).toBe(0);
      const [{ accounts }] = await db().query('SELECT count(*)::int AS accounts FROM accounts WHERE connection_id = $1', [connection.id]);
      expect(accounts).toBe(3);
      const [{ active }] = await db().query(
        `SELECT count(*)::int AS active FROM jobs WHERE connection_id = $1 AND status IN ('queued', 'running', 'awaiting-challenge')`,
        [connection.id],
      );
      expect(active).toBe(0);
      expect((await service.services.connections.get(app.id, connection.id)).status).toBe('ACTIVE');
    },
  );
});
