import type { EntityManager } from 'typeorm';
import type { Connection } from '../../entities/index.ts';
import { presentJob } from '../jobs/job.presenter.ts';
import { JobRepository } from '../jobs/job.repository.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';
import { presentConnection } from './connection.presenter.ts';

// Here, not in src/jobs: a job's events carry its connection, and the job queue knows nothing of connections.

/** job.completed, job.failed, job.challenge_required: the job as jobs.get returns it, and its connection. */
export async function recordJobEvent(
  m: EntityManager,
  type: 'job.completed' | 'job.failed' | 'job.challenge_required',
  jobId: string,
  connection: Connection,
  now: Date,
): Promise<void> {
  const job = await new JobRepository(m).findById(jobId);
  await recordEvent(m, {
    appId: connection.appId,
    userId: connection.userId,
    connectionId: connection.id,
    occurredAt: now,
    type,
    data: { job: presentJob(job), connection: presentConnection(connection) },
  });
}
