import type { DataSource, EntityManager } from 'typeorm';
import { deliveryTransition, startsFrom, type DeliveryTransition, type FailedAttemptTransition } from './delivery.lifecycle.ts';
import { DeliveryRepository, type SuccessRecord } from './delivery.repository.ts';

/**
 * The one writer of `webhook_deliveries.status`: each function applies one transition of delivery.lifecycle.ts
 * through the named statement of delivery.repository.ts that matches its `from` statuses and writes its `to`, in
 * the caller's transaction where there is one. Nothing else writes a delivery's status.
 */

const to = (t: DeliveryTransition) => deliveryTransition(null, t);
/** The status a transition from an existing delivery writes (the statement matches the `from` statuses). */
const target = (t: DeliveryTransition) => deliveryTransition(startsFrom(t)[0]!, t);

/** queued: the deliveries of a new event (to its one endpoint when targeted); wakes the workers at commit. */
export async function queueDeliveries(
  m: EntityManager,
  e: { appId: string; eventId: string; type: string; connectionId: string | null; occurredAt: Date; endpointId?: string },
): Promise<number> {
  const repo = new DeliveryRepository(m.connection);
  const status = to('queued');
  const queued = e.endpointId
    ? await repo.insertForEndpoint(m, {
        appId: e.appId,
        eventId: e.eventId,
        endpointId: e.endpointId,
        dueAt: e.occurredAt,
        // A test is sent even to a disabled endpoint: it is how one checks the endpoint before enabling it again.
        evenIfDisabled: e.type === 'webhook.test',
        status,
      })
    : await repo.insertForSubscribers(m, {
        appId: e.appId,
        eventId: e.eventId,
        type: e.type,
        connectionId: e.connectionId,
        dueAt: e.occurredAt,
        status,
      });
  if (queued > 0) await repo.notifyQueued(m);
  return queued;
}

/**
 * succeeded: a batch of successful attempts, by themselves or in the caller's transaction; returns the ids this
 * worker still held (only those are written).
 */
export function recordSuccesses(db: DataSource | EntityManager, rows: readonly SuccessRecord[], now: Date): Promise<Set<string>> {
  const m = 'connection' in db ? db : db.manager;
  return new DeliveryRepository(m.connection).recordSuccesses(m, rows, now, target('succeeded'));
}

/** retry-scheduled, exhausted or given-up: a failed attempt's outcome; false when another worker holds it now. */
export function settleFailedAttempt(
  m: EntityManager,
  transition: FailedAttemptTransition,
  o: { id: string; workerId: string; nextAttemptAt: Date | null; lastStatusCode: number | null; lastError: string | null },
): Promise<boolean> {
  return new DeliveryRepository(m.connection).settleFailedAttempt(m, o.id, o.workerId, {
    status: target(transition),
    nextAttemptAt: o.nextAttemptAt,
    lastStatusCode: o.lastStatusCode,
    lastError: o.lastError,
  });
}

/** endpoint-disabled: the waiting deliveries of an endpoint that was just disabled are given up on. */
export function failWaitingDeliveries(m: EntityManager, endpointId: string): Promise<void> {
  return new DeliveryRepository(m.connection).failWaitingForEndpoint(m, {
    endpointId,
    from: startsFrom('endpoint-disabled'),
    status: target('endpoint-disabled'),
  });
}

/** resent: one delivery due now with a fresh schedule (left alone while in flight); wakes the workers at commit. */
export async function resendDelivery(m: EntityManager, appId: string, id: string, now: Date): Promise<void> {
  const repo = new DeliveryRepository(m.connection);
  await repo.resetOne(m, { appId, id, now, from: startsFrom('resent'), status: target('resent') });
  await repo.notifyQueued(m);
}

/**
 * recovered, then queued: the endpoint's given-up deliveries of events since `since` are due again, and events it
 * never got a delivery for are added if it wants them now. Returns how many were queued.
 */
export async function recoverDeliveries(m: EntityManager, appId: string, endpointId: string, since: Date, now: Date): Promise<number> {
  const repo = new DeliveryRepository(m.connection);
  const reset = await repo.resetForEndpointSince(m, {
    appId,
    endpointId,
    since,
    now,
    from: startsFrom('recovered'),
    status: target('recovered'),
  });
  const added = await repo.insertMissingForEndpointSince(m, { appId, endpointId, since, now, status: to('queued') });
  const queued = reset + added;
  if (queued > 0) await repo.notifyQueued(m);
  return queued;
}
