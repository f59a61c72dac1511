import { describe, expect, it } from 'vitest';
import {
  IllegalSessionTransition,
  sessionTransition,
  type SessionEvent,
  type SessionPosition,
} from '../../src/connect/connect-session.lifecycle.ts';

// The connect session's one transition table: where each event takes a session, and what it refuses.

const start: SessionPosition = {
  status: 'created',
  step: 'consent',
  error: null,
  attemptsLeft: 3,
  institutionId: null,
  connectionId: null,
  jobId: null,
};
const run = (from: SessionPosition, ...events: SessionEvent[]) => events.reduce(sessionTransition, from);
const atSignIn = run(start, { type: 'opened' }, { type: 'consent-accepted' }, { type: 'institution-chosen', institutionId: 'AU00000' });
const queued: SessionEvent = { type: 'job-queued', jobId: 'j1', connectionId: 'c1' };
const wrongPassword: SessionEvent = { type: 'job-failed', error: { code: 'invalid-credentials', message: 'The bank rejected the login.' } };

describe('connect session lifecycle', () => {
  it('consent, then the bank (skipped when the session names one), then sign-in, progress and done', () => {
    expect(run(start, { type: 'opened' })).toMatchObject({ status: 'in-progress', step: 'consent' });
    expect(atSignIn).toMatchObject({ status: 'in-progress', step: 'sign-in', institutionId: 'AU00000' });
    expect(run({ ...start, institutionId: 'AU00200' }, { type: 'opened' }, { type: 'consent-accepted' })).toMatchObject({
      step: 'sign-in',
    });
    const progress = run(atSignIn, queued);
    expect(progress).toMatchObject({ step: 'progress', jobId: 'j1', connectionId: 'c1' });
    expect(run(progress, { type: 'job-awaiting-user' })).toMatchObject({ status: 'awaiting-user', step: 'progress' });
    expect(run(progress, { type: 'job-awaiting-user' }, { type: 'job-resumed' }, { type: 'job-succeeded' })).toMatchObject({
      status: 'completed',
      step: 'done',
      error: null,
    });
  });

  it('a wrong password goes back to sign-in with the attempts left; the last one fails with too-many-attempts', () => {
    const once = run(atSignIn, queued, wrongPassword);
    expect(once).toMatchObject({ status: 'awaiting-user', step: 'sign-in', attemptsLeft: 2, error: { code: 'invalid-credentials' } });
    const twice = run(once, queued, wrongPassword);
    expect(twice.attemptsLeft).toBe(1);
    expect(run(twice, queued, wrongPassword)).toMatchObject({
      status: 'failed',
      step: 'done',
      attemptsLeft: 0,
      error: { code: 'too-many-attempts' },
    });
  });

  it('other failures end the session at once, with their code', () => {
    const denied = run(atSignIn, queued, {
      type: 'job-failed',
      error: { code: 'consent-denied', message: 'Access was denied at the bank.' },
    });
    expect(denied).toMatchObject({ status: 'failed', error: { code: 'consent-denied' }, attemptsLeft: 3 });
  });

  it('cancelled says by whom; expired; a finished session never moves again', () => {
    expect(run(atSignIn, { type: 'cancelled', by: 'user' }).error).toEqual({ code: 'cancelled', message: 'The user cancelled.' });
    expect(run(atSignIn, { type: 'cancelled', by: 'app' }).error).toEqual({ code: 'cancelled', message: 'The app cancelled the session.' });
    const expired = run(start, { type: 'expired' });
    expect(expired).toMatchObject({ status: 'expired', step: 'done' });
    for (const event of [{ type: 'opened' }, { type: 'job-succeeded' }, { type: 'cancelled', by: 'app' }] as SessionEvent[]) {
      expect(() => sessionTransition(expired, event)).toThrow(IllegalSessionTransition);
    }
  });

  it('steps out of order are refused: a job before sign-in, a bank before consent', () => {
    expect(() => run(start, queued)).toThrow(IllegalSessionTransition);
    expect(() => run(start, { type: 'institution-chosen', institutionId: 'AU00000' })).toThrow(IllegalSessionTransition);
    expect(() => run(atSignIn, { type: 'consent-accepted' })).toThrow(IllegalSessionTransition);
  });
});
