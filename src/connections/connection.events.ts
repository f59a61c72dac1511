import type { EntityManager } from 'typeorm';
import type { Connection } from '../../entities/index.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';
import { presentConnection } from './connection.presenter.ts';

// Connections present themselves and record their own events: the recorder takes payloads ready to send, so
// webhooks never imports connections back (this broke the cycle transitions → recorder → presenter).

/**
 * The events a connection's write implies: state and status changes, a new error, and the error clearing
 * (`connection.repaired`). Called by every writer of a lifecycle transition, in its transaction.
 */
export async function recordConnectionChange(m: EntityManager, before: Connection, after: Connection, now: Date): Promise<void> {
  const connection = presentConnection(after);
  const base = { appId: after.appId, userId: after.userId, connectionId: after.id, occurredAt: now };
  if (before.state !== after.state) {
    await recordEvent(m, {
      ...base,
      type: 'connection.state_changed',
      data: { connection, previousState: before.state, state: after.state },
    });
  }
  if (before.status !== after.status) {
    await recordEvent(m, {
      ...base,
      type: 'connection.status_changed',
      data: { connection, previousStatus: before.status, status: after.status },
    });
  }
  if (after.error && (before.error?.code !== after.error.code || before.state !== after.state)) {
    await recordEvent(m, { ...base, type: 'connection.error', data: { connection, error: after.error } });
  }
  if (before.failingSince && !after.failingSince) {
    await recordEvent(m, {
      ...base,
      type: 'connection.repaired',
      data: { connection, failingSince: before.failingSince, failures: before.consecutiveFailures },
    });
  }
}
