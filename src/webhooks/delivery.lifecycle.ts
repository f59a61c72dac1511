import { DELIVERY_STATUSES, GIVEN_UP_DELIVERY_STATUSES, type DeliveryStatus } from '../../entities/index.ts';

/**
 * The one place a webhook delivery's status changes. Every writer of `webhook_deliveries.status` goes through
 * delivery.transitions.ts, which takes the status to write from here; docs/webhooks.md describes the same states.
 *
 * Deliveries move in sets (a fan-out, an endpoint's waiting deliveries, a batch of successes), so the table is
 * applied in SQL: each named statement in delivery.repository.ts matches the `from` statuses of its transition and
 * writes its `to`. Leases (locked_by, locked_until) are not states: a claim, a release or a lost lease leaves the
 * status as it is.
 */

export interface DeliveryTransitionRule {
  /** The statuses the transition may start from; empty: the delivery is created by it. */
  from: readonly DeliveryStatus[];
  to: DeliveryStatus;
  /** What else the statement writes with the status. */
  writes: string;
}

export const DELIVERY_TRANSITIONS = {
  /** An event's fan-out, a test or a notification to its endpoint, or recovering an event the endpoint never got. */
  queued: { from: [], to: 'pending', writes: 'next_attempt_at = when the event occurred (or now, when recovered)' },
  /** An attempt answered 2xx (written only while its worker holds the lease). */
  succeeded: {
    from: ['pending'],
    to: 'succeeded',
    writes: 'delivered_at, last_status_code; next_attempt_at and last_error cleared; the lease released; an attempt row',
  },
  /** An attempt failed and the schedule has an attempt left (Retry-After honoured on 429/503, up to a day). */
  'retry-scheduled': {
    from: ['pending'],
    to: 'pending',
    writes: 'next_attempt_at = the next wait, last_status_code, last_error; the lease released; an attempt row',
  },
  /** An attempt failed and it was the schedule's last. */
  exhausted: {
    from: ['pending'],
    to: 'dead',
    writes: 'next_attempt_at cleared, last_status_code, last_error; the lease released; an attempt row',
  },
  /** An attempt failed and its endpoint is disabled (by this attempt: a 410, or no success for too long; or before). */
  'given-up': {
    from: ['pending'],
    to: 'failed',
    writes: 'next_attempt_at cleared, last_status_code, last_error; the lease released; an attempt row',
  },
  /** Its endpoint was disabled while it waited (deliveries in flight are left to their attempt). */
  'endpoint-disabled': { from: ['pending'], to: 'failed', writes: 'next_attempt_at cleared' },
  /** Sent again by hand, whatever its status (unless in flight): a fresh retry schedule from now. */
  resent: { from: DELIVERY_STATUSES, to: 'pending', writes: 'next_attempt_at = now, schedule_start = attempts' },
  /** Recovering an endpoint: what was given up on is queued again, with a fresh retry schedule. */
  recovered: { from: GIVEN_UP_DELIVERY_STATUSES, to: 'pending', writes: 'next_attempt_at = now, schedule_start = attempts' },
} as const satisfies Record<string, DeliveryTransitionRule>;

export type DeliveryTransition = keyof typeof DELIVERY_TRANSITIONS;
/** The transitions a failed attempt may make. */
export type FailedAttemptTransition = Extract<DeliveryTransition, 'retry-scheduled' | 'exhausted' | 'given-up'>;

export class IllegalDeliveryTransition extends Error {
  constructor(
    readonly from: DeliveryStatus | null,
    readonly transition: DeliveryTransition,
  ) {
    super(`no delivery transition ${transition} from ${from ?? 'a new delivery'}`);
    this.name = 'IllegalDeliveryTransition';
  }
}

/** The status a transition writes; `from` null is a delivery not yet written. Pure. */
export function deliveryTransition(from: DeliveryStatus | null, transition: DeliveryTransition): DeliveryStatus {
  const rule: DeliveryTransitionRule = DELIVERY_TRANSITIONS[transition];
  const allowed = from === null ? rule.from.length === 0 : rule.from.includes(from);
  if (!allowed) throw new IllegalDeliveryTransition(from, transition);
  return rule.to;
}

/** The statuses a transition starts from, for the statement that applies it to a set of rows. */
export function startsFrom(transition: DeliveryTransition): readonly DeliveryStatus[] {
  return DELIVERY_TRANSITIONS[transition].from;
}

/** Which transition a failed attempt makes, from the attempt policy's verdict and whether its endpoint is still enabled. */
export function afterFailedAttempt(verdict: 'gone' | 'retry' | 'dead', endpointEnabled: boolean): FailedAttemptTransition {
  if (verdict === 'gone') return 'given-up';
  if (verdict === 'dead') return 'exhausted';
  return endpointEnabled ? 'retry-scheduled' : 'given-up';
}
