import type { EntityManager } from 'typeorm';
import type { EventType } from '../../entities/index.ts';
import { queueDeliveries } from './delivery.transitions.ts';
import { EventRepository } from './event.repository.ts';
import { NotificationRuleRepository } from './notification-rule.repository.ts';
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
  const events = new EventRepository(m);
  let sequence: number | null = null;
  // Targeted events (a rule's notification, a test) are derived, not part of the connection's own stream.
  if (e.connectionId && !e.endpointId) sequence = await events.nextConnectionSequence(e.appId, e.connectionId);
  // JSON round trip: Dates become the ISO strings subscribers receive, and jsonb stores exactly that.
  const data = JSON.parse(JSON.stringify(e.data)) as Record<string, unknown>;
  // Its time is settled under the connection's lock too, never before the previous event's (see insert).
  const eventId = await events.insert({
    appId: e.appId,
    type: e.type,
    userId: e.userId,
    connectionId: e.connectionId,
    sequence,
    endpointId: e.endpointId ?? null,
    occurredAt: e.occurredAt,
    data,
  });
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
  const rules = await new NotificationRuleRepository(m).listFiring(e.appId, triggers);
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
