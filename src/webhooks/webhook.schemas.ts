import { z } from 'zod';
import {
  DELIVERY_STATUSES,
  EVENT_TYPES,
  NOTIFICATION_TRIGGERS,
  type EventType,
  type NotificationRuleParams,
  type NotificationTrigger,
} from '../../entities/index.ts';
import type { FieldIssue } from '../errors.ts';
import { coercedDate, dateTime, exact, inputObject, intParam, noControlChars, uuidOf } from '../validation.ts';

// Input schemas for events, endpoints, deliveries and notification rules: the rules of what they may hold.

const uuid = uuidOf;

const NOTIFICATION_TYPES = NOTIFICATION_TRIGGERS.map((t) => `notification.${t}`);
const KNOWN_TYPES: readonly string[] = [...EVENT_TYPES, ...NOTIFICATION_TYPES];
const PREFIXES = [...new Set(KNOWN_TYPES.map((t) => t.split('.')[0]!))];

/** An event type, or `prefix.*` for a family (`connection.*`). */
const eventTypeFilter = z.string().refine((t) => KNOWN_TYPES.includes(t) || (t.endsWith('.*') && PREFIXES.includes(t.slice(0, -2))), {
  message: `must be an event type (${EVENT_TYPES.join(', ')}, notification.<TRIGGER>) or a family such as connection.*`,
});
const eventType = z.string().refine((t) => KNOWN_TYPES.includes(t), { message: 'must be an event type' });

const eventTypes = z
  .array(eventTypeFilter)
  .min(1, 'give at least one event type, or leave it out for all')
  .max(50)
  .refine((t) => new Set(t).size === t.length, 'event types must not repeat');
const connectionIds = z
  .array(uuid('a connection'))
  .min(1, 'give at least one connection id, or leave it out for all')
  .max(1000)
  .refine((t) => new Set(t).size === t.length, 'connection ids must not repeat');
const description = z.string().trim().max(500).regex(noControlChars, 'must not contain control characters');
const url = z.string().trim().min(1, 'must not be empty').max(2048).regex(noControlChars, 'must not contain control characters');
const limit = intParam(1, 500).default(100);
const cursor = z.string().max(200).meta({ description: 'The nextCursor of the previous page (leave it out for the first).' }).optional();

export const endpointIdInput = inputObject({ id: uuid('an endpoint') });

export const createEndpointInput = inputObject({
  url,
  description: description.optional(),
  eventTypes: eventTypes.optional(),
  connectionIds: connectionIds.optional(),
});
export type CreateEndpointInput = z.output<typeof createEndpointInput>;

export const updateEndpointInput = inputObject({
  id: uuid('an endpoint'),
  url: url.optional(),
  description: description.nullable().optional(),
  /** null: every event type again. */
  eventTypes: eventTypes.nullable().optional(),
  connectionIds: connectionIds.nullable().optional(),
  enabled: exact(z.boolean()).optional(),
});
export type UpdateEndpointInput = z.output<typeof updateEndpointInput>;

export const listEndpointsInput = inputObject({ cursor, limit }).default({ limit: 100 });

export const recoverEndpointInput = inputObject({
  id: uuid('an endpoint'),
  /** Re-send every event since this time that the endpoint did not receive (as Svix's recover does). */
  since: coercedDate,
});

export const listDeliveriesInput = inputObject({
  endpointId: uuid('an endpoint').optional(),
  eventId: uuid('an event').optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  cursor,
  limit: intParam(1, 200).default(50),
});
export type ListDeliveriesInput = z.output<typeof listDeliveriesInput>;

export const deliveryIdInput = inputObject({ id: uuid('a delivery') });

export const listEventsInput = inputObject({
  since: coercedDate.optional(),
  types: z.array(eventType).min(1).max(50).optional(),
  connectionId: uuid('a connection').optional(),
  cursor,
  limit,
}).default({ limit: 100 });
export type ListEventsInput = z.output<typeof listEventsInput>;

/** Decimal amounts as strings ("100.50") or numbers; kept as exact decimal strings. */
const threshold = z
  .union([z.string().trim(), z.number().finite()])
  .transform((v) => String(v))
  .refine((v) => /^-?\d{1,16}(\.\d{1,4})?$/.test(v), 'must be a decimal amount with at most 4 decimals, such as 100 or "99.95"');
const accountIds = z.array(uuid('an account')).min(1).max(1000).optional();

/** Parameters per trigger (finAPI's): which ones a trigger takes, and which it needs. */
export const ruleParamsByTrigger = {
  NEW_ACCOUNT_BALANCE: z.strictObject({ accountIds }),
  NEW_TRANSACTIONS: z.strictObject({ accountIds }),
  BANK_LOGIN_ERROR: z.strictObject({}),
  LOW_ACCOUNT_BALANCE: z.strictObject({ accountIds, threshold }),
  HIGH_TRANSACTION_AMOUNT: z.strictObject({ accountIds, threshold }),
  CONNECTION_STATUS_CHANGED: z.strictObject({}),
} as const;

/**
 * A trigger's params, or the problems with them, each at its own path (an unknown key at ['params', key], list
 * positions as numbers), so create and update report them the same way.
 */
export function parseRuleParams(
  trigger: NotificationTrigger,
  params: unknown,
): { ok: true; params: NotificationRuleParams } | { ok: false; issues: FieldIssue[] } {
  const parsed = ruleParamsByTrigger[trigger].safeParse(params);
  if (parsed.success) return { ok: true, params: parsed.data as NotificationRuleParams };
  const issues = parsed.error.issues.flatMap((issue): FieldIssue[] => {
    const at = ['params', ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    return issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...at, key], message: `${trigger} takes no such parameter` }))
      : [{ path: at, message: `${issue.message} (for ${trigger})` }];
  });
  return { ok: false, issues };
}

export const createNotificationRuleInput = inputObject({
  triggerEvent: z.enum(NOTIFICATION_TRIGGERS),
  params: z.record(z.string(), z.unknown()).default({}),
  connectionIds: connectionIds.optional(),
  endpointId: uuid('an endpoint'),
  includeDetails: exact(z.boolean()).default(true),
}).transform((input, ctx) => {
  const parsed = parseRuleParams(input.triggerEvent, input.params);
  if (!parsed.ok) {
    for (const issue of parsed.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    return z.NEVER;
  }
  return { ...input, params: parsed.params };
});
export type CreateNotificationRuleInput = z.output<typeof createNotificationRuleInput>;

export const updateNotificationRuleInput = inputObject({
  id: uuid('a notification rule'),
  /** Validated against the rule's trigger. */
  params: z.record(z.string(), z.unknown()).optional(),
  connectionIds: connectionIds.nullable().optional(),
  endpointId: uuid('an endpoint').optional(),
  includeDetails: exact(z.boolean()).optional(),
});
export type UpdateNotificationRuleInput = z.output<typeof updateNotificationRuleInput>;

export const notificationRuleIdInput = inputObject({ id: uuid('a notification rule') });

/** notificationRules.list takes nothing (an empty object, or no input at all). */
export const listNotificationRulesInput = inputObject({}).optional();

// Output schemas.

export const eventView = z
  .object({
    id: z.guid(),
    type: z
      .custom<EventType>((t) => typeof t === 'string' && KNOWN_TYPES.includes(t))
      .meta({ override: { type: 'string', enum: [...KNOWN_TYPES] } }),
    userId: z.string().nullable(),
    connectionId: z.guid().nullable(),
    /** 1, 2, 3 … per connection: a gap means a missed event. */
    sequence: z.number().int().nullable(),
    occurredAt: dateTime,
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Event' });
/** `nextCursor` is always a place to continue from; `hasMore` says whether more events are already waiting. */
export const eventPageView = z.object({ items: z.array(eventView), nextCursor: z.string().nullable(), hasMore: z.boolean() });

export const endpointView = z
  .object({
    id: z.guid(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()).nullable(),
    connectionIds: z.array(z.guid()).nullable(),
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    failingSince: dateTime.nullable(),
    lastSuccessAt: dateTime.nullable(),
    previousSecretExpiresAt: dateTime.nullable(),
    createdAt: dateTime,
    updatedAt: dateTime,
  })
  .meta({ id: 'WebhookEndpoint' });
/** create and rotateSecret: the signing secret, shown only in this answer. */
export const endpointWithSecretView = z.object({ endpoint: endpointView, secret: z.string() });
export const endpointPageView = z.object({ items: z.array(endpointView), nextCursor: z.string().nullable() });
export const deletedView = z.object({ id: z.guid() });

const deliveryStatus = z.enum(DELIVERY_STATUSES);
export const deliveryView = z
  .object({
    id: z.guid(),
    eventId: z.guid(),
    endpointId: z.guid(),
    status: deliveryStatus,
    attempts: z.number().int(),
    nextAttemptAt: dateTime.nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: dateTime,
    deliveredAt: dateTime.nullable(),
    /** Oldest first. */
    attemptLog: z.array(
      z.object({ attemptedAt: dateTime, statusCode: z.number().int().nullable(), error: z.string().nullable(), latencyMs: z.number() }),
    ),
  })
  .meta({ id: 'WebhookDelivery' });
export const deliveryPageView = z.object({ items: z.array(deliveryView), nextCursor: z.string().nullable() });

/** endpoints.test: how the test event's delivery went, sent there and then. */
export const testDeliveryView = z.object({
  eventId: z.guid(),
  deliveryId: z.guid(),
  status: deliveryStatus,
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  latencyMs: z.number(),
  nextAttemptAt: dateTime.nullable(),
});
export const recoverResultView = z.object({ queued: z.number().int() });

export const notificationRuleView = z
  .object({
    id: z.guid(),
    triggerEvent: z.enum(NOTIFICATION_TRIGGERS),
    params: z.object({ accountIds: z.array(z.guid()).optional(), threshold: z.string().optional() }),
    connectionIds: z.array(z.guid()).nullable(),
    endpointId: z.guid(),
    includeDetails: z.boolean(),
    createdAt: dateTime,
    updatedAt: dateTime,
  })
  .meta({ id: 'NotificationRule' });
export const notificationRuleListView = z.array(notificationRuleView);
