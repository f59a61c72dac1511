import { In, type EntityManager } from 'typeorm';
import { ACTIVE_JOB_STATUSES, Job, type Dataset, type JobKind } from '../../entities/index.ts';
import { plannedSteps } from './job.steps.ts';

/** Workers LISTEN here; Postgres delivers a NOTIFY only when the enqueueing transaction commits. */
export const JOBS_CHANNEL = 'cs_jobs_queued';

export interface EnqueueJob {
  appId: string;
  connectionId: string;
  kind: JobKind;
  providerKey: string;
  datasets: readonly Dataset[];
  runAt: Date;
}

/**
 * Queues a job inside the caller's transaction, so the change that causes the job and the job itself commit together.
 * The caller holds the connection's row lock; the partial unique index is the last word on "one active job".
 */
export async function enqueueJob(manager: EntityManager, job: EnqueueJob): Promise<Job> {
  const repo = manager.getRepository(Job);
  const saved = await repo.save(
    repo.create({
      appId: job.appId,
      connectionId: job.connectionId,
      kind: job.kind,
      providerKey: job.providerKey,
      status: 'queued',
      steps: plannedSteps(job.datasets),
      runAt: job.runAt,
      error: null,
      challenge: null,
      lockedBy: null,
      lockedUntil: null,
      startedAt: null,
      finishedAt: null,
    }),
  );
  await manager.query(`SELECT pg_notify($1, '')`, [JOBS_CHANNEL]);
  return saved;
}

/** The queued or running job of each given connection (at most one each). */
export async function activeJobsByConnection(
  manager: EntityManager,
  appId: string,
  connectionIds: readonly string[],
): Promise<Map<string, Job>> {
  if (connectionIds.length === 0) return new Map();
  const jobs = await manager.getRepository(Job).findBy({
    appId,
    connectionId: In([...connectionIds]),
    status: In([...ACTIVE_JOB_STATUSES]),
  });
  return new Map(jobs.map((j) => [j.connectionId, j]));
}
