import type { EntityManager } from 'typeorm';
import { NotificationRule, type EventType } from '../../entities/index.ts';
import { queueDeliveries } from './delivery.transitions.ts';
import { evaluateRule, triggersFor, type RuleFacts } from './notification-rule.matcher.ts';

export interface NewEvent {
  appId: string;
  type: EventType;
  userId: string | null;
  connectionId: string | null;
  occurredAt: Date;
  data: Record<string, unknown>;
  /** Deliver to this endpoint only, whatever its filters (webhook.test, notification rules). */
  endpointId?: string;
  /** What notification rules may look at beyond `data` (amounts of new transactions, balances). */
  facts?: RuleFacts;
}

export interface RecordedEvent {
  id: string;
  sequence: number | null;
  deliveries: number;
}

/**
 * Writes an event in the caller's transaction, queues a delivery to every endpoint subscribed to it, and fires
 * the app's notification rules. Because all of it commits or rolls back with the change that caused it, a crash
 * can neither lose an event nor announce a change that did not happen. A connection's events are numbered 1, 2, …
 * under the connection's row lock, which every writer of connection events holds.
 */
export async function recordEvent(m: EntityManager, e: NewEvent): Promise<RecordedEvent> {
  let sequence: number | null = null;
  // Targeted events (a rule's notification, a test) are derived, not part of the connection's own stream.
  if (e.connectionId && !e.endpointId) {
    const [rows]: [{ event_sequence: number }[], number] = await m.query(
      `UPDATE connections SET event_sequence = event_sequence + 1 WHERE id = $1 AND app_id = $2 RETURNING event_sequence`,
      [e.connectionId, e.appId],
    );
    sequence = rows[0]?.event_sequence ?? null;
  }
  // JSON round trip: Dates become the ISO strings subscribers receive, and jsonb stores exactly that.
  const data = JSON.parse(JSON.stringify(e.data)) as Record<string, unknown>;
  // The time is settled under the connection's lock, as the sequence is: never before the connection's previous
  // event. (Callers read their clock before the lock; a writer that waited for it would otherwise record an
  // earlier time than the event numbered before its own, and across replicas clocks differ anyway.)
  const [event]: { id: string }[] = await m.query(
    `INSERT INTO events (app_id, type, user_id, connection_id, sequence, endpoint_id, occurred_at, data)
     VALUES ($1, $2, $3, $4, $5, $6,
             GREATEST($7::timestamptz, (SELECT p.occurred_at FROM events p WHERE p.app_id = $1 AND p.connection_id = $4 AND p.sequence = $5::int - 1)),
             $8)
     RETURNING id`,
    [e.appId, e.type, e.userId, e.connectionId, sequence, e.endpointId ?? null, e.occurredAt, data],
  );
  const eventId = event!.id;
  const deliveries = await queueDeliveries(m, {
    appId: e.appId,
    eventId,
    type: e.type,
    connectionId: e.connectionId,
    occurredAt: e.occurredAt,
    endpointId: e.endpointId,
  });
  if (!e.endpointId) await fireRules(m, { ...e, data }, eventId);
  return { id: eventId, sequence, deliveries };
}

async function fireRules(m: EntityManager, e: NewEvent, eventId: string): Promise<void> {
  const triggers = triggersFor(e.type);
  if (triggers.length === 0) return;
  const rules = await m
    .getRepository(NotificationRule)
    .createQueryBuilder('r')
    .innerJoin('r.endpoint', 'endpoint', 'endpoint.enabled')
    .where('r.app_id = :appId AND r.trigger_event IN (:...triggers)', { appId: e.appId, triggers })
    .getMany();
  for (const rule of rules) {
    const data = evaluateRule(rule, { id: eventId, type: e.type, connectionId: e.connectionId, data: e.data }, e.facts ?? {});
    if (!data) continue;
    await recordEvent(m, {
      appId: e.appId,
      type: `notification.${rule.triggerEvent}`,
      userId: e.userId,
      connectionId: e.connectionId,
      occurredAt: e.occurredAt,
      endpointId: rule.endpointId,
      data,
    });
  }
}
