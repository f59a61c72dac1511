import { In, type EntityManager } from 'typeorm';
import {
  ACTIVE_JOB_STATUSES,
  Job,
  JOB_PRIORITIES,
  type Dataset,
  type Institution,
  type JobKind,
  type JobPriority,
} from '../../entities/index.ts';
import { plannedSteps } from './job.steps.ts';

/** Workers LISTEN here; Postgres delivers a NOTIFY only when the enqueueing transaction commits. */
export const JOBS_CHANNEL = 'cs_jobs_queued';

export interface EnqueueJob {
  appId: string;
  connectionId: string;
  kind: JobKind;
  institution: Pick<Institution, 'id' | 'providerKey'>;
  datasets: readonly Dataset[];
  runAt: Date;
  /** Interactive unless said otherwise: every job queued through the API has someone waiting for it. */
  priority?: JobPriority;
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
      providerKey: job.institution.providerKey,
      institutionId: job.institution.id,
      priority: job.priority ?? JOB_PRIORITIES.interactive,
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

/**
 * Someone now waits for these queued jobs (a manual refresh found one already queued by the scheduler): they are
 * claimed before scheduled work from now on.
 */
export async function prioritizeJobs(manager: EntityManager, jobs: readonly Job[]): Promise<void> {
  const ids = jobs.filter((j) => j.priority !== JOB_PRIORITIES.interactive).map((j) => j.id);
  if (ids.length === 0) return;
  await manager.query(`UPDATE jobs SET priority = $2 WHERE id = ANY($1::uuid[])`, [ids, JOB_PRIORITIES.interactive]);
  for (const j of jobs) j.priority = JOB_PRIORITIES.interactive;
}
