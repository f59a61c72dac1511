import type { EntityManager } from 'typeorm';
import type { Job } from '../../entities/index.ts';
import { JOB_TRANSITIONS, jobTransitionPatch, type JobTransition } from './job.lifecycle.ts';
import { JobRepository } from './job.repository.ts';

/**
 * Writes a transition of one job, in the caller's transaction: the table decides the new status and what goes with
 * it. A transition out of `running` is fenced by the worker's lease (LeaseLost when another worker holds the job
 * now); one out of `awaiting-challenge` writes a job no worker holds, which the caller has locked. Every status
 * write of a single job goes through here; the bulk transitions are named statements in job.repository.ts.
 */
export async function applyJobTransition(
  m: EntityManager,
  job: Pick<Job, 'id' | 'status'>,
  t: JobTransition,
  now: Date,
  workerId?: string,
): Promise<void> {
  const patch = jobTransitionPatch(job.status, t, now);
  const jobs = new JobRepository(m);
  if (job.status === JOB_TRANSITIONS.claim.to) {
    if (workerId === undefined) throw new Error(`job ${job.id} is running: only its worker may move it on`);
    await jobs.fencedUpdate(m, job.id, workerId, patch);
  } else {
    await jobs.updateLocked(job.id, patch);
  }
}
