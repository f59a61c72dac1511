import type { ConnectionError, ConnectionStatus, ConnectionSyncState } from '../../entities/index.ts';

/**
 * The one place connection status, state and error change. (The refresh engine adds the transitions a job drives;
 * the full table is in docs/connection-lifecycle.md.)
 */
export interface LifecyclePosition {
  status: ConnectionStatus;
  state: ConnectionSyncState;
  error: ConnectionError | null;
}

/** A connection that has been asked for but not yet verified with the provider. */
export const NEW_CONNECTION: Readonly<LifecyclePosition> = Object.freeze({
  status: 'INITIATED',
  state: 'pending',
  error: null,
});
