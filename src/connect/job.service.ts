import type { EntityManager } from 'typeorm';
import { hashState } from '../security/oauth-state.ts';
import { challengeBinding } from '../security/credential-cipher.ts';
import type { Connection, Job, JobStep } from '../../entities/index.ts';
import { recordExtraction } from '../connections/connection.lifecycle.ts';
import { ConnectionRepository } from '../connections/connection.repository.ts';
import { applyTransition } from '../connections/connection.transitions.ts';
import { recordJobEvent } from '../connections/job.events.ts';
import type { Deps } from '../deps.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { InstitutionRepository } from '../institutions/institution.repository.ts';
import { CHALLENGE_EXPIRED } from '../jobs/job-failure.ts';
import { JobRepository } from '../jobs/job.repository.ts';
import { applyJobTransition } from '../jobs/job.transitions.ts';
import { presentJob, type JobView } from '../jobs/job.presenter.ts';
import { followJob } from './connect-session.lifecycle.ts';

/** How often a DECOUPLED challenge is checked again while the user approves elsewhere. */
export const DECOUPLED_RECHECK_MS = 1_000;

/**
 * Jobs as apps see them, and the user's side of multi-step authentication. Here, above connections and the job queue,
 * because an answer (or its expiry) moves the job, its connection and the connect sessions following it together.
 */
export class JobService {
  constructor(private readonly deps: Deps) {}

  async get(appId: string, id: string): Promise<JobView> {
    const job = await new JobRepository(this.deps.db).findForApp(appId, id);
    if (!job) throw AppError.notFound('job', id);
    return presentJob(job);
  }

  /** A connection's jobs, newest first. */
  async list(appId: string, connectionId: string, limit: number): Promise<JobView[]> {
    if (!(await new ConnectionRepository(this.deps.db.manager).exists(appId, connectionId))) {
      throw AppError.notFound('connection', connectionId);
    }
    const jobs = await new JobRepository(this.deps.db).listForConnection(appId, connectionId, limit);
    return jobs.map(presentJob);
  }

  /**
   * Hands the user's answer to the waiting job and queues it to continue. The answer is stored encrypted until the
   * runner passes it to the provider; whether it is right is the provider's call. For a REDIRECT challenge the
   * answer is the query the bank sent to the callback (`code=…&state=…`), and its `state` must be the job's; for a
   * DECOUPLED one any answer means "check again now".
   */
  async answerChallenge(appId: string, id: string, response: string): Promise<JobView> {
    const outcome = await this.deps.db.transaction(async (manager) => {
      const job = await new JobRepository(manager).lockForApp(appId, id);
      if (!job) throw AppError.notFound('job', id);
      return this.answerLocked(manager, job, response);
    });
    if (outcome === 'expired') {
      throw new AppError(ErrorCode.PRECONDITION_FAILED, `the challenge of job ${id} has expired; the job failed`, { status: 'failed' });
    }
    return this.get(appId, id);
  }

  /**
   * The bank's redirect back to the service's callback: the job whose run handed out this `state` gets the query
   * as its answer. The state works once. Returns the job, or null when no job waits for that state.
   */
  async answerRedirect(query: string): Promise<{ jobId: string; appId: string } | null> {
    const state = new URLSearchParams(query).get('state');
    if (!state) return null;
    return this.deps.db.transaction(async (manager) => {
      const job = await new JobRepository(manager).lockAwaitingByStateHash(hashState(state));
      if (!job) return null;
      await this.answerLocked(manager, job, query);
      return { jobId: job.id, appId: job.appId };
    });
  }

  /**
   * A DECOUPLED challenge moves on by itself: queue the job to ask the provider again whether the user approved.
   * Called when someone is watching (the hosted pages poll) and by the scheduler's recovery tick. False when there
   * is nothing to check (not decoupled, or checked within the last second).
   */
  async recheckDecoupled(jobId: string): Promise<boolean> {
    const now = this.deps.clock.now();
    return this.deps.db.transaction(async (manager) => {
      const job = await new JobRepository(manager).lockAwaiting(jobId);
      if (!job || job.challenge?.type !== 'DECOUPLED' || now.getTime() - job.updatedAt.getTime() < DECOUPLED_RECHECK_MS) return false;
      return (await this.answerLocked(manager, job, '')) === 'queued';
    });
  }

  /** Queues a re-check of every DECOUPLED challenge due one (the recovery tick). */
  async recheckDecoupledChallenges(limit = 100): Promise<number> {
    const ids = await new JobRepository(this.deps.db).decoupledChallengesDue(
      new Date(this.deps.clock.now().getTime() - DECOUPLED_RECHECK_MS),
      limit,
    );
    let n = 0;
    for (const id of ids) if (await this.recheckDecoupled(id)) n += 1;
    return n;
  }

  /** The answer to the challenge of a job the caller has locked: queued to continue, or failed if too late. */
  private async answerLocked(manager: EntityManager, job: Job, response: string): Promise<'queued' | 'expired'> {
    const now = this.deps.clock.now();
    if (job.status !== 'awaiting-challenge' || !job.challenge) {
      throw new AppError(ErrorCode.PRECONDITION_FAILED, `job ${job.id} is ${job.status}, not awaiting a challenge answer`, {
        status: job.status,
      });
    }
    if (new Date(job.challenge.expiresAt) <= now) {
      await this.failExpiredChallenge(manager, job, now);
      return 'expired';
    }
    if (job.challenge.type === 'REDIRECT') {
      const state = new URLSearchParams(response).get('state');
      if (!state || !job.challengeStateHash || hashState(state) !== job.challengeStateHash) {
        throw AppError.validation(['response'], "is not the bank's callback for this job (its state does not match)");
      }
    }
    const sealed = this.deps.cipher.seal({ response }, challengeBinding(job.appId, job.id));
    await applyJobTransition(manager, job, { type: 'answer', response: sealed }, now);
    await followJob(manager, job.id, { type: 'job-resumed' }, now);
    await new JobRepository(manager).notifyQueued();
    return 'queued';
  }

  /** Fails jobs whose challenge went unanswered past its expiry. Safe to run from many processes at once. */
  async expireChallenges(limit = 100): Promise<number> {
    const now = this.deps.clock.now();
    return this.deps.db.transaction(async (manager) => {
      const jobs = await new JobRepository(manager).lockExpiredChallenges(now, limit);
      for (const job of jobs) await this.failExpiredChallenge(manager, job, now);
      return jobs.length;
    });
  }

  private async failExpiredChallenge(manager: EntityManager, job: Job, now: Date): Promise<void> {
    const steps: JobStep[] = job.steps.map((s) =>
      s.status === 'in-progress' ? { ...s, status: 'failed', finishedAt: now, error: CHALLENGE_EXPIRED } : s,
    );
    await applyJobTransition(manager, job, { type: 'challenge-expired', error: CHALLENGE_EXPIRED, steps }, now);
    const current = await new ConnectionRepository(manager).findOne(job.appId, job.connectionId);
    if (!current) return;
    const institution = await new InstitutionRepository(manager).findByIdOrFail(current.institutionId);
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
    await followJob(manager, job.id, { type: 'job-failed', error: CHALLENGE_EXPIRED }, now);
  }
}
