import type { EntityManager } from 'typeorm';
import type { Connection } from '../../entities/index.ts';
import { recordConnectionChange } from './connection.events.ts';
import { snapshotOf, transition, type LifecycleEvent } from './connection.lifecycle.ts';
import { ConnectionRepository } from './connection.repository.ts';

/**
 * Writes a lifecycle transition: locks the connection, applies the transition table (plus any fields the caller
 * sets alongside), and records the events the change implies, all in the caller's transaction. Every writer of
 * status, state and error goes through here. Returns null when the connection no longer exists.
 */
export async function applyTransition(
  m: EntityManager,
  appId: string,
  connectionId: string,
  event: LifecycleEvent,
  now: Date,
  alongside: (locked: Connection) => Partial<Connection> = () => ({}),
): Promise<{ before: Connection; after: Connection } | null> {
  const repo = new ConnectionRepository(m);
  const before = await repo.lockOne(appId, connectionId);
  if (!before) return null;
  const after = await repo.update(appId, connectionId, { ...alongside(before), ...transition(snapshotOf(before), event, now) });
  await recordConnectionChange(m, before, after, now);
  return { before, after };
}
