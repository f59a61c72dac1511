import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { JOB_PRIORITIES, type ConnectionError, type Job, type JobChallenge, type JobStatus, type JobStep } from '../../entities/index.ts';
import type { SealedCredentials } from '../security/credential-cipher.ts';

/**
 * The one place a job's status changes. The table below says which transitions exist and from where; a job's own
 * transitions (a run's outcome, a challenge answered or expired) are computed by `jobTransitionPatch` and written by
 * the one writer, `applyJobTransition` (job.transitions.ts). The transitions that move many jobs at once (enqueue,
 * claim, take-over, hand-back, unclaim) are named statements in job.repository.ts that take their statuses from this
 * table. Retries and rate limits send the job back to the queue; only succeeded and failed are final.
 */
export const JOB_TRANSITIONS = {
  /** A new job (connections.create / update / refresh, the refresh sweep). Writes the row: kind, priority, planned steps, runAt. */
  enqueue: { from: [], to: 'queued' },
  /** A worker claims a due job: lease (locked_by, locked_until), attempts + 1, startedAt on the first run. */
  claim: { from: ['queued'], to: 'running' },
  /** A worker claims a job whose lease ran out (its worker died): as claim, and the step in progress shows `interrupted`. */
  'take-over': { from: ['running'], to: 'running' },
  /** Lease released (graceful stop, expired lease): back to the queue now, the step in progress `interrupted`. */
  'hand-back': { from: ['running'], to: 'queued' },
  /** A claimed job this worker has no provider slot for: lease released, the claim's attempt taken back. */
  unclaim: { from: ['running'], to: 'queued' },
  /** The provider asks the user something: the challenge stored, any old answer gone, the lease released. */
  'await-challenge': { from: ['running'], to: 'awaiting-challenge' },
  /** A transient failure: back to the queue after backoff, failures + 1, the error kept for the user to see. */
  retry: { from: ['running'], to: 'queued' },
  /** The provider's rate limit: back to the queue after its Retry-After, failures unchanged. */
  'rate-limited': { from: ['running'], to: 'queued' },
  /** The last step done: the run's steps, finishedAt, challenge gone, lease over (locked_by kept as the record). */
  succeed: { from: ['running'], to: 'succeeded' },
  /** A failure retrying cannot fix, or retries used up: as succeed, with the error. */
  fail: { from: ['running'], to: 'failed' },
  /** The user answered: queued now, interactive, the answer sealed, the OAuth state used up. */
  answer: { from: ['awaiting-challenge'], to: 'queued' },
  /** The challenge went unanswered past its expiry (or the answer came too late): failed with CHALLENGE_EXPIRED. */
  'challenge-expired': { from: ['awaiting-challenge'], to: 'failed' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: JobStatus }>;

export type JobTransitionName = keyof typeof JOB_TRANSITIONS;

/** A transition of one job, with what it writes besides its status. */
export type JobTransition =
  | { type: 'await-challenge'; challenge: JobChallenge; challengeStateHash: string | null }
  | { type: 'retry' | 'rate-limited'; runAt: Date; failures: number; error: ConnectionError; steps: JobStep[] }
  | { type: 'succeed'; steps: JobStep[] }
  | { type: 'fail'; error: ConnectionError; steps: JobStep[] }
  | { type: 'answer'; response: SealedCredentials }
  | { type: 'challenge-expired'; error: ConnectionError; steps: JobStep[] };

export class IllegalJobTransition extends Error {
  constructor(
    readonly from: JobStatus,
    readonly transition: JobTransitionName,
  ) {
    super(`no job transition ${transition} from status ${from}`);
    this.name = 'IllegalJobTransition';
  }
}

/** The status a transition leads to from `from`, or IllegalJobTransition. */
export function nextJobStatus(from: JobStatus, name: JobTransitionName): JobStatus {
  const t = JOB_TRANSITIONS[name];
  if (!(t.from as readonly JobStatus[]).includes(from)) throw new IllegalJobTransition(from, name);
  return t.to;
}

/** The lease is over: no worker holds the job. */
export const LEASE_RELEASED = { lockedBy: null, lockedUntil: null } as const;

/** What a transition of one job writes, status included. Pure: time comes in as `now`. */
export function jobTransitionPatch(from: JobStatus, t: JobTransition, now: Date): QueryDeepPartialEntity<Job> {
  const status = nextJobStatus(from, t.type);
  switch (t.type) {
    case 'await-challenge':
      return {
        status,
        challenge: t.challenge as never,
        challengeResponseCiphertext: null,
        challengeResponseKeyId: null,
        // The bank's redirect back finds the job by this run's state (kept as a hash, single use).
        challengeStateHash: t.challengeStateHash,
        ...LEASE_RELEASED,
        updatedAt: now,
      };
    case 'retry':
    case 'rate-limited':
      return {
        status,
        runAt: t.runAt,
        failures: t.failures,
        error: t.error as never,
        steps: t.steps as never,
        ...LEASE_RELEASED,
        updatedAt: now,
      };
    case 'succeed':
    case 'fail':
      // locked_by stays, as the record of which worker ran the job; the lease ends.
      return {
        status,
        error: (t.type === 'fail' ? t.error : null) as never,
        steps: t.steps as never,
        challenge: null,
        challengeResponseCiphertext: null,
        challengeResponseKeyId: null,
        finishedAt: now,
        lockedUntil: null,
        updatedAt: now,
      };
    case 'answer':
      return {
        status,
        runAt: now,
        // The user who answered waits for what comes next: before any scheduled refresh.
        priority: JOB_PRIORITIES.interactive,
        challengeResponseCiphertext: t.response.ciphertext,
        challengeResponseKeyId: t.response.keyId,
        // A state works once.
        challengeStateHash: null,
        updatedAt: now,
      };
    case 'challenge-expired':
      return {
        status,
        error: t.error as never,
        steps: t.steps as never,
        finishedAt: now,
        updatedAt: now,
        challengeResponseCiphertext: null,
        challengeResponseKeyId: null,
      };
  }
}
