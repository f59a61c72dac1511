import { z } from 'zod';
import { Connection, Institution, Job, JOB_PRIORITIES } from '../../entities/index.ts';
import { recordExtraction } from '../connections/connection.lifecycle.ts';
import { applyTransition } from '../connections/connection.transitions.ts';
import type { Deps } from '../deps.ts';
import { inputObject } from '../validation.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { CHALLENGE_EXPIRED } from './job-failure.ts';
import { JOBS_CHANNEL } from './job.queue.ts';
import { recordJobEvent } from './job.events.ts';
import { presentJob, type JobView } from './job.presenter.ts';
import type { JobStep } from '../../entities/index.ts';

export const jobIdInput = inputObject({ id: z.uuid({ message: 'must be a job id (uuid)' }) });
export const listJobsInput = inputObject({
  connectionId: z.uuid({ message: 'must be a connection id (uuid)' }),
  limit: z.number().int().min(1).max(200).default(50),
});
export const answerChallengeInput = inputObject({
  id: z.uuid({ message: 'must be a job id (uuid)' }),
  response: z.string().trim().min(1, 'must not be empty').max(1024),
});

/** Jobs as apps see them, and the user's side of multi-step authentication. */
export class JobService {
  constructor(private readonly deps: Deps) {}

  async get(appId: string, id: string): Promise<JobView> {
    const job = await this.deps.db.getRepository(Job).findOneBy({ appId, id });
    if (!job) throw AppError.notFound('job', id);
    return presentJob(job);
  }

  /** A connection's jobs, newest first. */
  async list(appId: string, connectionId: string, limit: number): Promise<JobView[]> {
    if (!(await this.deps.db.getRepository(Connection).existsBy({ appId, id: connectionId }))) {
      throw AppError.notFound('connection', connectionId);
    }
    const jobs = await this.deps.db.getRepository(Job).find({
      where: { appId, connectionId },
      order: { createdAt: 'DESC', id: 'DESC' },
      take: limit,
    });
    return jobs.map(presentJob);
  }

  /**
   * Hands the user's answer to the waiting job and queues it to continue. The answer is stored encrypted until the
   * runner passes it to the provider; whether it is right is the provider's call.
   */
  async answerChallenge(appId: string, id: string, response: string): Promise<JobView> {
    const now = this.deps.clock.now();
    const outcome = await this.deps.db.transaction(async (manager) => {
      const job = await manager.getRepository(Job).createQueryBuilder('j').setLock('pessimistic_write').where('j.app_id = :appId AND j.id = :id', { appId, id }).getOne();
      if (!job) throw AppError.notFound('job', id);
      if (job.status !== 'awaiting-challenge' || !job.challenge) {
        throw new AppError(ErrorCode.PRECONDITION_FAILED, `job ${id} is ${job.status}, not awaiting a challenge answer`, { status: job.status });
      }
      if (new Date(job.challenge.expiresAt) <= now) {
        await this.failExpiredChallenge(manager, job, now);
        return 'expired' as const;
      }
      const sealed = this.deps.cipher.seal({ response }, `${appId}:${id}:challenge`);
      await manager.getRepository(Job).update(
        { id },
        // The user who answered waits for what comes next: before any scheduled refresh.
        { status: 'queued', runAt: now, priority: JOB_PRIORITIES.interactive, challengeResponseCiphertext: sealed.ciphertext, challengeResponseKeyId: sealed.keyId, updatedAt: now },
      );
      await manager.query(`SELECT pg_notify($1, '')`, [JOBS_CHANNEL]);
      return 'queued' as const;
    });
    if (outcome === 'expired') {
      throw new AppError(ErrorCode.PRECONDITION_FAILED, `the challenge of job ${id} has expired; the job failed`, { status: 'failed' });
    }
    return this.get(appId, id);
  }

  /** Fails jobs whose challenge went unanswered past its expiry. Safe to run from many processes at once. */
  async expireChallenges(limit = 100): Promise<number> {
    const now = this.deps.clock.now();
    return this.deps.db.transaction(async (manager) => {
      const jobs = await manager
        .getRepository(Job)
        .createQueryBuilder('j')
        .setLock('pessimistic_write')
        .setOnLocked('skip_locked')
        .where(`j.status = 'awaiting-challenge' AND (j.challenge ->> 'expiresAt')::timestamptz <= :now`, { now })
        .limit(limit)
        .getMany();
      for (const job of jobs) await this.failExpiredChallenge(manager, job, now);
      return jobs.length;
    });
  }

  private async failExpiredChallenge(manager: import('typeorm').EntityManager, job: Job, now: Date): Promise<void> {
    const steps: JobStep[] = job.steps.map((s) =>
      s.status === 'in-progress' ? { ...s, status: 'failed', finishedAt: now, error: CHALLENGE_EXPIRED } : s,
    );
    await manager.getRepository(Job).update(
      { id: job.id },
      { status: 'failed', error: CHALLENGE_EXPIRED, steps, finishedAt: now, updatedAt: now, challengeResponseCiphertext: null, challengeResponseKeyId: null },
    );
    const current = await manager.getRepository(Connection).findOneBy({ appId: job.appId, id: job.connectionId });
    if (!current) return;
    const institution = await manager.getRepository(Institution).findOneByOrFail({ id: current.institutionId });
    const usesUserInfo = (c: Connection) => (c.datasets ?? institution.datasets).includes('USER_INFO');
    const changed = await applyTransition(
      manager,
      job.appId,
      job.connectionId,
      { type: 'job-failed', error: CHALLENGE_EXPIRED, effect: 'needs-credentials' },
      now,
      (connection) => ({
        // The challenge belongs to verify-credentials, which records USER_INFO.
        datasetState: recordExtraction(connection.datasetState, usesUserInfo(connection) ? ['USER_INFO'] : [], 'FAILURE', job.id, now),
      }),
    );
    if (changed) await recordJobEvent(manager, 'job.failed', job.id, changed.after, now);
  }
}
