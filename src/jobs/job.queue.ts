import type { EntityManager } from 'typeorm';
import { JOB_PRIORITIES, type Dataset, type Institution, type Job, type JobKind, type JobPriority } from '../../entities/index.ts';
import { JobRepository } from './job.repository.ts';
import { plannedSteps } from './job.steps.ts';

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
  const jobs = new JobRepository(manager);
  const [id] = await jobs.insertQueued([
    {
      appId: job.appId,
      connectionId: job.connectionId,
      kind: job.kind,
      providerKey: job.institution.providerKey,
      institutionId: job.institution.id,
      priority: job.priority ?? JOB_PRIORITIES.interactive,
      steps: plannedSteps(job.datasets),
      runAt: job.runAt,
    },
  ]);
  return jobs.findById(id!);
}

/** The queued or running job of each given connection (at most one each). */
export function activeJobsByConnection(manager: EntityManager, appId: string, connectionIds: readonly string[]): Promise<Map<string, Job>> {
  return new JobRepository(manager).activeByConnection(appId, connectionIds);
}

/**
 * Someone now waits for these queued jobs (a manual refresh found one already queued by the scheduler): they are
 * claimed before scheduled work from now on.
 */
export async function prioritizeJobs(manager: EntityManager, jobs: readonly Job[]): Promise<void> {
  const ids = jobs.filter((j) => j.priority !== JOB_PRIORITIES.interactive).map((j) => j.id);
  if (ids.length === 0) return;
  await new JobRepository(manager).prioritize(ids);
  for (const j of jobs) j.priority = JOB_PRIORITIES.interactive;
}
