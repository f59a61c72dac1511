import type { EntityManager } from 'typeorm';
import {
  ConnectSession,
  type ConnectionError,
  type ConnectSessionError,
  type ConnectSessionStatus,
  type ConnectStep,
} from '../../entities/index.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';
import { isFinished, presentConnectSession } from './connect-session.presenter.ts';
import { ConnectSessionRepository } from './connect-session.repository.ts';

/**
 * The one place a connect session's status and step change: a pure table (`sessionTransition`) and one writer
 * (`applySessionEvent`), which records `connect_session.completed` or `.failed` in the caller's transaction when a
 * session ends. The hosted pages, the job runner and the API all move sessions through here.
 */

export type SessionEvent =
  | { type: 'opened' }
  | { type: 'consent-accepted' }
  | { type: 'institution-chosen'; institutionId: string }
  | { type: 'job-queued'; jobId: string; connectionId: string }
  | { type: 'job-awaiting-user' }
  | { type: 'job-resumed' }
  | { type: 'job-succeeded' }
  | { type: 'job-failed'; error: Pick<ConnectionError, 'code' | 'message'> }
  | { type: 'cancelled'; by: 'user' | 'app' }
  | { type: 'expired' };

export interface SessionPosition {
  status: ConnectSessionStatus;
  step: ConnectStep;
  error: ConnectSessionError | null;
  attemptsLeft: number;
  institutionId: string | null;
  connectionId: string | null;
  jobId: string | null;
}

/** Failures the user can put right on the same page (typing the password or the code again), while attempts last. */
const RETRYABLE = new Set(['invalid-credentials', 'challenge-failed']);

export class IllegalSessionTransition extends Error {
  constructor(
    readonly from: SessionPosition,
    readonly event: SessionEvent,
  ) {
    super(`no connect session transition for ${event.type} from ${from.status}/${from.step}`);
    this.name = 'IllegalSessionTransition';
  }
}

/** The next position, or IllegalSessionTransition. A finished session never moves again. */
export function sessionTransition(from: SessionPosition, event: SessionEvent): SessionPosition {
  if (isFinished(from)) throw new IllegalSessionTransition(from, event);
  const signInOrBank = (institutionId: string | null): ConnectStep => (institutionId ? 'sign-in' : 'bank');
  switch (event.type) {
    case 'opened':
      return from.status === 'created' ? { ...from, status: 'in-progress' } : from;
    case 'consent-accepted':
      if (from.step !== 'consent') break;
      return { ...from, status: 'in-progress', step: signInOrBank(from.institutionId) };
    case 'institution-chosen':
      if (from.step !== 'bank') break;
      return { ...from, institutionId: event.institutionId, step: 'sign-in' };
    case 'job-queued':
      if (from.step !== 'sign-in') break;
      return { ...from, status: 'in-progress', step: 'progress', error: null, jobId: event.jobId, connectionId: event.connectionId };
    case 'job-awaiting-user':
      return { ...from, status: 'awaiting-user', step: 'progress' };
    case 'job-resumed':
      return { ...from, status: 'in-progress', step: 'progress' };
    case 'job-succeeded':
      return { ...from, status: 'completed', step: 'done', error: null };
    case 'job-failed': {
      const error = { code: event.error.code, message: event.error.message };
      if (RETRYABLE.has(event.error.code) && from.attemptsLeft > 1) {
        // Back to the same sign-in page, saying what was wrong.
        return { ...from, status: 'awaiting-user', step: 'sign-in', error, attemptsLeft: from.attemptsLeft - 1 };
      }
      const tooMany = RETRYABLE.has(event.error.code);
      return {
        ...from,
        status: 'failed',
        step: 'done',
        attemptsLeft: tooMany ? 0 : from.attemptsLeft,
        error: tooMany ? { code: 'too-many-attempts', message: `${event.error.message} No attempts left in this session.` } : error,
      };
    }
    case 'cancelled':
      return {
        ...from,
        status: 'cancelled',
        step: 'done',
        error: { code: 'cancelled', message: event.by === 'user' ? 'The user cancelled.' : 'The app cancelled the session.' },
      };
    case 'expired':
      return { ...from, status: 'expired', step: 'done', error: { code: 'expired', message: 'The session expired before it finished.' } };
  }
  throw new IllegalSessionTransition(from, event);
}

const positionOf = (s: ConnectSession): SessionPosition => ({
  status: s.status,
  step: s.step,
  error: s.error,
  attemptsLeft: s.attemptsLeft,
  institutionId: s.institutionId,
  connectionId: s.connectionId,
  jobId: s.jobId,
});

/** Writes a transition of a session the caller has locked, with the event of its end when it ends. */
export async function applySessionEvent(
  m: EntityManager,
  session: ConnectSession,
  event: SessionEvent,
  now: Date,
): Promise<ConnectSession> {
  const next = sessionTransition(positionOf(session), event);
  const ended = isFinished(next);
  const patch: Partial<ConnectSession> = { ...next, updatedAt: now, ...(ended ? { finishedAt: now } : {}) };
  await new ConnectSessionRepository(m).update(session.id, patch);
  const after = Object.assign(new ConnectSession(), session, patch);
  if (ended && next.status !== 'expired') {
    const view = presentConnectSession(after, now);
    await recordEvent(m, {
      appId: session.appId,
      userId: session.userId,
      connectionId: after.connectionId,
      occurredAt: now,
      type: next.status === 'completed' ? 'connect_session.completed' : 'connect_session.failed',
      data:
        next.status === 'completed'
          ? { session: view, connectionId: after.connectionId }
          : { session: view, connectionId: after.connectionId, reason: next.error },
    });
  }
  return after;
}

/** The moments of a job that move the sessions following it, in the job's own transaction. */
export async function followJob(
  m: EntityManager,
  jobId: string,
  event: Extract<SessionEvent, { type: `job-${string}` }>,
  now: Date,
): Promise<void> {
  // A session whose job is under way follows it to the end, even past the session's expiry: the user did their part.
  for (const session of await new ConnectSessionRepository(m).lockFollowing(jobId)) await applySessionEvent(m, session, event, now);
}
