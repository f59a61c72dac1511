import type {
  Connection,
  ConnectionError,
  ConnectionStatus,
  ConnectionSyncState,
  Dataset,
  DatasetExtraction,
  JobKind,
} from '../../entities/index.ts';
import type { FailureEffect } from '../jobs/job-failure.ts';

/**
 * The one place a connection's status, state, error and need for user action change. Every writer (the service,
 * the job runner, the scheduler) computes its patch here and writes what comes back; docs/connection-lifecycle.md
 * draws the same table.
 */

export interface LifecycleSnapshot {
  status: ConnectionStatus;
  state: ConnectionSyncState;
  error: ConnectionError | null;
  connectedAt: Date | null;
  disconnectedAt: Date | null;
  userActionRequired: boolean;
  /** Since when the connection has been failing (set by a failure or a lapsed consent, cleared by a success). */
  failingSince: Date | null;
  consecutiveFailures: number;
}

export type LifecycleEvent =
  | { type: 'job-started'; kind: JobKind }
  | { type: 'job-succeeded' }
  | { type: 'job-failed'; error: ConnectionError; effect: FailureEffect }
  | { type: 'credentials-updated' }
  /** consentExpiresAt has passed (noticed by the runner or the scheduler). */
  | { type: 'consent-lapsed'; error: ConnectionError };

export class IllegalTransition extends Error {
  constructor(
    readonly from: LifecycleSnapshot,
    readonly event: LifecycleEvent,
  ) {
    super(`no transition for ${event.type} from state ${from.state} (status ${from.status})`);
    this.name = 'IllegalTransition';
  }
}

export const NEW_CONNECTION: Readonly<LifecycleSnapshot> = Object.freeze({
  status: 'INITIATED',
  state: 'pending',
  error: null,
  connectedAt: null,
  disconnectedAt: null,
  userActionRequired: false,
  failingSince: null,
  consecutiveFailures: 0,
});

const CREATION_STARTS_FROM: ConnectionSyncState[] = ['pending', 'dependency-completed', 'dependency-failed', 'creation-failed'];
const UPDATE_STARTS_FROM: ConnectionSyncState[] = ['completed-up-to-date', 'completed-outdated'];

/** The next position, or IllegalTransition. Pure: time comes in as `now`. */
export function transition(from: LifecycleSnapshot, event: LifecycleEvent, now: Date): LifecycleSnapshot {
  switch (event.type) {
    case 'job-started': {
      // A job that resumes after a crash or a challenge finds its connection already in progress: stay there.
      if (from.state === 'creation-in-progress' || from.state === 'update-in-progress') return from;
      if (CREATION_STARTS_FROM.includes(from.state)) return { ...from, state: 'creation-in-progress', error: null };
      // The data is kept while it is refreshed; the state machine allows no error while in progress (seed 001).
      if (UPDATE_STARTS_FROM.includes(from.state)) return { ...from, state: 'update-in-progress', error: null };
      break;
    }
    case 'job-succeeded': {
      if (from.state !== 'creation-in-progress' && from.state !== 'update-in-progress') break;
      return {
        status: 'ACTIVE',
        state: 'completed-up-to-date',
        error: null,
        connectedAt: from.connectedAt ?? now,
        disconnectedAt: null,
        userActionRequired: false,
        failingSince: null,
        consecutiveFailures: 0,
      };
    }
    case 'job-failed': {
      if (from.state !== 'creation-in-progress' && from.state !== 'update-in-progress') break;
      const creating = from.state === 'creation-in-progress';
      return {
        status: event.effect === 'consent-expired' ? 'EXPIRED' : event.effect === 'revoked' ? 'DISCONNECTED' : from.status,
        // A connection that never completed failed its creation; one with data keeps it, marked outdated.
        state: creating ? 'creation-failed' : 'completed-outdated',
        error: event.error,
        connectedAt: from.connectedAt,
        disconnectedAt: event.effect === 'revoked' ? now : from.disconnectedAt,
        userActionRequired: from.userActionRequired || event.effect !== 'none',
        failingSince: from.failingSince ?? now,
        consecutiveFailures: from.consecutiveFailures + 1,
      };
    }
    case 'credentials-updated':
      // New credentials are the user's action; the job they queue decides the rest.
      return { ...from, userActionRequired: false };
    case 'consent-lapsed': {
      if (from.status === 'EXPIRED' || from.status === 'DISCONNECTED') return from;
      const hasData = from.state === 'completed-up-to-date' || from.state === 'completed-outdated';
      return {
        ...from,
        status: 'EXPIRED',
        state: hasData ? 'completed-outdated' : from.state,
        error: hasData ? event.error : from.error,
        userActionRequired: true,
        failingSince: from.failingSince ?? now,
      };
    }
  }
  throw new IllegalTransition(from, event);
}

export function snapshotOf(c: Connection): LifecycleSnapshot {
  return {
    status: c.status,
    state: c.state,
    error: c.error,
    connectedAt: c.connectedAt,
    disconnectedAt: c.disconnectedAt,
    userActionRequired: c.userActionRequired,
    failingSince: c.failingSince,
    consecutiveFailures: c.consecutiveFailures,
  };
}

/** Seed 000's per-dataset extraction state after a step: SUCCESS moves lastSuccess, FAILURE keeps it. */
export function recordExtraction(
  current: Partial<Record<Dataset, DatasetExtraction>>,
  datasets: readonly Dataset[],
  outcome: 'SUCCESS' | 'FAILURE',
  referenceId: string,
  now: Date,
): Partial<Record<Dataset, DatasetExtraction>> {
  const next = { ...current };
  for (const d of datasets) {
    next[d] = {
      status: outcome,
      referenceId,
      lastSuccess: outcome === 'SUCCESS' ? now : (current[d]?.lastSuccess ?? null),
      lastUpdated: now,
    };
  }
  return next;
}
