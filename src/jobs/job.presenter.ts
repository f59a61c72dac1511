import type { ConnectionError, Job, JobChallenge, JobKind, JobStatus, JobStep } from '../../entities/index.ts';

export interface JobView {
  id: string;
  connectionId: string;
  kind: JobKind;
  status: JobStatus;
  steps: JobStep[];
  error: ConnectionError | null;
  /** While `awaiting-challenge`: what to show the user; answer with jobs.answerChallenge before `expiresAt`. */
  challenge: JobChallenge | null;
  /** Runs of this job so far (retries and resumptions included). */
  attempts: number;
  /** When a queued job will next run (after a backoff or a provider's Retry-After). */
  runAt: Date;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const date = (d: Date | string | null) => (d === null ? null : new Date(d));

export function presentJob(j: Job): JobView {
  return {
    id: j.id,
    connectionId: j.connectionId,
    kind: j.kind,
    status: j.status,
    // jsonb: dates come back as strings.
    steps: j.steps.map((s) => ({ ...s, startedAt: date(s.startedAt), finishedAt: date(s.finishedAt) })),
    error: j.error,
    challenge: j.challenge && j.status === 'awaiting-challenge' ? { ...j.challenge, expiresAt: new Date(j.challenge.expiresAt) } : null,
    attempts: j.attempts,
    runAt: j.runAt,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
  };
}
