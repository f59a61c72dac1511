import { describe, expect, it } from 'vitest';
import type { ConnectionError } from '../../entities/index.ts';
import {
  IllegalTransition,
  NEW_CONNECTION,
  recordExtraction,
  transition,
  type LifecycleSnapshot,
} from '../../src/connections/connection.lifecycle.ts';
import { backoffMs, decideFailure } from '../../src/jobs/job-failure.ts';
import { ProviderError } from '../../src/providers/provider.ts';

const now = new Date('2026-05-01T10:00:00.000Z');
const err: ConnectionError = { category: 'technical', origin: 'provider', code: 'provider-timeout', message: 'slow', attributes: {} };
const active: LifecycleSnapshot = {
  ...NEW_CONNECTION,
  status: 'ACTIVE',
  state: 'completed-up-to-date',
  connectedAt: new Date('2026-01-01'),
};

describe('connection lifecycle', () => {
  it('create: pending → creation-in-progress → completed-up-to-date (ACTIVE, connectedAt) or creation-failed (INITIATED)', () => {
    const running = transition(NEW_CONNECTION, { type: 'job-started', kind: 'create' }, now);
    expect(running.state).toBe('creation-in-progress');
    expect(transition(running, { type: 'job-succeeded' }, now)).toEqual({
      status: 'ACTIVE',
      state: 'completed-up-to-date',
      error: null,
      connectedAt: now,
      disconnectedAt: null,
      userActionRequired: false,
      failingSince: null,
      consecutiveFailures: 0,
    });
    expect(transition(running, { type: 'job-failed', error: err, effect: 'none' }, now)).toMatchObject({
      status: 'INITIATED',
      state: 'creation-failed',
      error: err,
    });
  });

  it('refresh: completed-* → update-in-progress → up-to-date, or outdated keeping connectedAt', () => {
    const running = transition(active, { type: 'job-started', kind: 'refresh' }, now);
    expect(running).toMatchObject({ state: 'update-in-progress', error: null });
    const failed = transition(running, { type: 'job-failed', error: err, effect: 'none' }, now);
    expect(failed).toMatchObject({
      status: 'ACTIVE',
      state: 'completed-outdated',
      error: err,
      connectedAt: active.connectedAt,
      userActionRequired: false,
    });
    const again = transition(transition(failed, { type: 'job-started', kind: 'refresh' }, now), { type: 'job-succeeded' }, now);
    expect(again).toMatchObject({ state: 'completed-up-to-date', error: null, connectedAt: active.connectedAt });
  });

  it('effects: needs-credentials, consent-expired (EXPIRED), revoked (DISCONNECTED with disconnectedAt)', () => {
    const running = transition(active, { type: 'job-started', kind: 'refresh' }, now);
    expect(transition(running, { type: 'job-failed', error: err, effect: 'needs-credentials' }, now).userActionRequired).toBe(true);
    expect(transition(running, { type: 'job-failed', error: err, effect: 'consent-expired' }, now).status).toBe('EXPIRED');
    expect(transition(running, { type: 'job-failed', error: err, effect: 'revoked' }, now)).toMatchObject({
      status: 'DISCONNECTED',
      disconnectedAt: now,
    });
  });

  it('keeps error exactly in the error states (seed 001)', () => {
    const errorStates = ['dependency-failed', 'creation-failed', 'completed-outdated'];
    const reachable = [
      NEW_CONNECTION,
      transition(NEW_CONNECTION, { type: 'job-started', kind: 'create' }, now),
      transition(
        transition(NEW_CONNECTION, { type: 'job-started', kind: 'create' }, now),
        { type: 'job-failed', error: err, effect: 'none' },
        now,
      ),
      transition(active, { type: 'consent-lapsed', error: err }, now),
      transition(
        transition(active, { type: 'job-started', kind: 'refresh' }, now),
        { type: 'job-failed', error: err, effect: 'revoked' },
        now,
      ),
    ];
    for (const s of reachable) expect(s.error !== null).toBe(errorStates.includes(s.state));
  });

  it('counts failures in a row and remembers since when, until a success clears both', () => {
    const later = new Date(now.getTime() + 60_000);
    const fail = (s: LifecycleSnapshot, at: Date) =>
      transition(transition(s, { type: 'job-started', kind: 'refresh' }, at), { type: 'job-failed', error: err, effect: 'none' }, at);
    const twice = fail(fail(active, now), later);
    expect(twice).toMatchObject({ failingSince: now, consecutiveFailures: 2 });
    // In progress the error is cleared (seed 001), but the run of failures is not forgotten until a success.
    const retrying = transition(twice, { type: 'job-started', kind: 'refresh' }, later);
    expect(retrying).toMatchObject({ error: null, failingSince: now, consecutiveFailures: 2 });
    expect(transition(retrying, { type: 'job-succeeded' }, later)).toMatchObject({ failingSince: null, consecutiveFailures: 0 });
    expect(transition(active, { type: 'consent-lapsed', error: err }, later).failingSince).toEqual(later);
  });

  it('refuses transitions not in the table', () => {
    expect(() => transition(NEW_CONNECTION, { type: 'job-succeeded' }, now)).toThrow(IllegalTransition);
    expect(() => transition(active, { type: 'job-failed', error: err, effect: 'none' }, now)).toThrow(IllegalTransition);
  });

  it('records extraction: SUCCESS moves lastSuccess, FAILURE keeps it', () => {
    const ok = recordExtraction({}, ['BANK_ACCOUNT'], 'SUCCESS', 'job-1', now);
    const later = new Date(now.getTime() + 1000);
    expect(recordExtraction(ok, ['BANK_ACCOUNT'], 'FAILURE', 'job-2', later).BANK_ACCOUNT).toEqual({
      status: 'FAILURE',
      referenceId: 'job-2',
      lastSuccess: now,
      lastUpdated: later,
    });
  });
});

describe('failure decisions and backoff', () => {
  it('maps provider errors to actions and connection errors', () => {
    expect(decideFailure(new ProviderError('rate-limited', 'x', { retryAfterMs: 7000 }))).toMatchObject({
      action: 'rate-limited',
      retryAfterMs: 7000,
    });
    expect(decideFailure(new ProviderError('transient', 'x', { code: 'provider-timeout' }))).toMatchObject({
      action: 'retry',
      error: { category: 'technical', code: 'provider-timeout' },
    });
    expect(decideFailure(new ProviderError('invalid-credentials', 'x'))).toMatchObject({
      action: 'fail',
      effect: 'needs-credentials',
      error: { category: 'functional', origin: 'provider', code: 'invalid-credentials' },
    });
    expect(decideFailure(new Error('boom'))).toMatchObject({ action: 'retry', error: { origin: 'platform', code: 'internal' } });
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(20, 1000, 60_000, () => 1)).toBe(60_000);
    const spread = new Set(Array.from({ length: 50 }, () => backoffMs(3, 1000, 60_000)));
    expect(spread.size).toBeGreaterThan(10);
  });
});
