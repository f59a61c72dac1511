import { describe, expect, it } from 'vitest';
import {
  ACTIVE_JOB_STATUSES,
  FINISHED_JOB_STATUSES,
  JOB_PRIORITIES,
  JOB_STATUSES,
  type ConnectionError,
  type JobStep,
} from '../../entities/index.ts';
import {
  IllegalJobTransition,
  JOB_TRANSITIONS,
  jobTransitionPatch,
  nextJobStatus,
  type JobTransitionName,
} from '../../src/jobs/job.lifecycle.ts';

const now = new Date('2026-05-01T10:00:00.000Z');
const err: ConnectionError = { category: 'technical', origin: 'provider', code: 'provider-timeout', message: 'slow', attributes: {} };
const steps: JobStep[] = [{ title: 'verify-credentials', status: 'failed', startedAt: now, finishedAt: now, error: err }];

describe('job lifecycle', () => {
  it('the table: every transition and where it may start', () => {
    const table = Object.fromEntries(Object.entries(JOB_TRANSITIONS).map(([name, t]) => [name, `${t.from.join('|') || '∅'} → ${t.to}`]));
    expect(table).toEqual({
      enqueue: '∅ → queued',
      claim: 'queued → running',
      'take-over': 'running → running',
      'hand-back': 'running → queued',
      unclaim: 'running → queued',
      'await-challenge': 'running → awaiting-challenge',
      retry: 'running → queued',
      'rate-limited': 'running → queued',
      succeed: 'running → succeeded',
      fail: 'running → failed',
      answer: 'awaiting-challenge → queued',
      'challenge-expired': 'awaiting-challenge → failed',
    });
  });

  it('a finished job never moves again, and every active status can be left', () => {
    for (const name of Object.keys(JOB_TRANSITIONS) as JobTransitionName[]) {
      for (const finished of FINISHED_JOB_STATUSES) expect(() => nextJobStatus(finished, name)).toThrow(IllegalJobTransition);
    }
    for (const active of ACTIVE_JOB_STATUSES) {
      expect(Object.values(JOB_TRANSITIONS).some((t) => (t.from as readonly string[]).includes(active) && t.to !== active)).toBe(true);
    }
    for (const t of Object.values(JOB_TRANSITIONS)) expect(JOB_STATUSES).toContain(t.to);
  });

  it('a job awaiting a challenge is not a running one: the runner cannot end it, only an answer or the expiry can', () => {
    expect(() => nextJobStatus('awaiting-challenge', 'succeed')).toThrow('no job transition succeed from status awaiting-challenge');
    expect(() => nextJobStatus('queued', 'answer')).toThrow(IllegalJobTransition);
    expect(nextJobStatus('awaiting-challenge', 'answer')).toBe('queued');
  });

  it('what a run’s outcomes write: the lease released on the way back to the queue, kept as a record when it ends', () => {
    const runAt = new Date(now.getTime() + 2_000);
    expect(jobTransitionPatch('running', { type: 'retry', runAt, failures: 2, error: err, steps }, now)).toEqual({
      status: 'queued',
      runAt,
      failures: 2,
      error: err,
      steps,
      lockedBy: null,
      lockedUntil: null,
      updatedAt: now,
    });
    const ended = jobTransitionPatch('running', { type: 'fail', error: err, steps }, now);
    expect(ended).toMatchObject({ status: 'failed', error: err, finishedAt: now, lockedUntil: null, challenge: null });
    expect(ended).not.toHaveProperty('lockedBy');
    expect(jobTransitionPatch('running', { type: 'succeed', steps }, now)).toMatchObject({ status: 'succeeded', error: null });
    const challenge = { id: 'c1', message: 'code?', type: 'TEXT' as const, expiresAt: now };
    expect(jobTransitionPatch('running', { type: 'await-challenge', challenge, challengeStateHash: null }, now)).toMatchObject({
      status: 'awaiting-challenge',
      challenge,
      challengeResponseCiphertext: null,
      lockedBy: null,
      lockedUntil: null,
    });
  });

  it('an answer queues the job at once, interactive, its OAuth state used up; an expired challenge fails it', () => {
    const response = { ciphertext: Buffer.from('x'), keyId: 'k1' };
    expect(jobTransitionPatch('awaiting-challenge', { type: 'answer', response }, now)).toEqual({
      status: 'queued',
      runAt: now,
      priority: JOB_PRIORITIES.interactive,
      challengeResponseCiphertext: response.ciphertext,
      challengeResponseKeyId: 'k1',
      challengeStateHash: null,
      updatedAt: now,
    });
    expect(jobTransitionPatch('awaiting-challenge', { type: 'challenge-expired', error: err, steps }, now)).toMatchObject({
      status: 'failed',
      finishedAt: now,
      challengeResponseCiphertext: null,
    });
  });
});
