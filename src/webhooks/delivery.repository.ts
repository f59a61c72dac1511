import { In, type DataSource, type EntityManager } from 'typeorm';
import {
  Event,
  WAITING_DELIVERY_STATUSES,
  WebhookDelivery,
  WebhookDeliveryAttempt,
  WebhookEndpoint,
  type DeliveryStatus,
} from '../../entities/index.ts';
import { sqlList } from '../../entities/sql.ts';
import { listKeysetPage } from '../db/keyset-cursor.ts';
import { PreparedStatement, preparedOnFirstRun } from '../db/prepared-statement.ts';
import { selectList } from '../db/select-list.ts';
import { storableOrNull } from '../storable-text.ts';
import type { DeliveryContext } from './delivery.types.ts';

/** What is kept of an attempt's answer and of its error: enough to debug a receiver, bounded for every row. */
const RESPONSE_BODY_CHARS = 1024;
const ERROR_CHARS = 500;

/** One successful attempt, for recordSuccesses. */
export interface SuccessRecord {
  deliveryId: string;
  workerId: string;
  attemptedAt: Date;
  statusCode: number;
  latencyMs: number;
  responseBody: string | null;
}

/** A delivery this worker holds, with what it needs to send it. */
export interface ClaimedDelivery {
  id: string;
  appId: string;
  eventId: string;
  endpointId: string;
  attempts: number;
  scheduleStart: number;
}

/** `status IN ('pending')`: a delivery waiting for an attempt (the claim's partial index has the same predicate). */
const WAITING = `status IN (${sqlList(WAITING_DELIVERY_STATUSES)})`;

/** Delivery workers LISTEN here; the NOTIFY reaches them when the transaction that queued deliveries commits. */
export const DELIVERIES_CHANNEL = 'cs_deliveries_queued';

/**
 * "This endpoint wants this event": its type filter (an exact type or `connection.*`) and its connection filter
 * both take it. `endpoint` names the webhook_endpoints row; `type` and `connectionId` are SQL expressions (a column
 * or a typed parameter). Used by the fan-out of a new event and by recovering an endpoint.
 */
export function endpointWantsEvent(endpoint: string, type: string, connectionId: string): string {
  return `(${endpoint}.event_types IS NULL OR ${type} = ANY(${endpoint}.event_types) OR split_part(${type}, '.', 1) || '.*' = ANY(${endpoint}.event_types))
           AND (${endpoint}.connection_ids IS NULL OR ${connectionId} IS NULL OR ${connectionId} = ANY(${endpoint}.connection_ids))`;
}

/**
 * The claim's two statements, prepared (the claim runs many times a second under load). First its settings for the
 * rest of the transaction and the lock that makes claims take turns; see claim() for why.
 */
const CLAIM_SETTINGS = new PreparedStatement(
  `SELECT set_config('enable_bitmapscan', 'off', true), pg_advisory_xact_lock(hashtext('cs_webhook_delivery_claim'))`,
);
const CLAIM = new PreparedStatement(
  `WITH due AS MATERIALIZED (
         SELECT e.id AS endpoint_id,
                (SELECT min(d.next_attempt_at) FROM webhook_deliveries d
                  WHERE d.endpoint_id = e.id AND d.${WAITING} AND d.next_attempt_at <= $1
                    AND (d.locked_until IS NULL OR d.locked_until < $1)) AS oldest
         FROM webhook_endpoints e WHERE e.enabled),
       ready AS MATERIALIZED (
         SELECT endpoint_id, oldest,
                $3::int - (SELECT count(*)::int FROM (
                  SELECT 1 FROM webhook_deliveries f WHERE f.endpoint_id = due.endpoint_id AND f.locked_until >= $1
                  LIMIT $3) busy) AS free
         FROM due WHERE oldest IS NOT NULL),
       picked AS (
         SELECT p.id FROM (SELECT * FROM ready WHERE free > 0 ORDER BY oldest) r
         CROSS JOIN LATERAL (
           SELECT d.id FROM webhook_deliveries d
           WHERE d.endpoint_id = r.endpoint_id AND d.${WAITING} AND d.next_attempt_at <= $1
             AND (d.locked_until IS NULL OR d.locked_until < $1)
           ORDER BY d.next_attempt_at, d.id
           LIMIT r.free
           FOR UPDATE SKIP LOCKED) p
         LIMIT $2)
       UPDATE webhook_deliveries d SET locked_by = $4, locked_until = $5, attempts = d.attempts + 1
       FROM picked WHERE d.id = picked.id
       RETURNING d.id, d.app_id, d.event_id, d.endpoint_id, d.attempts, d.schedule_start`,
);

/** A batch of successes, written in one statement (recordSuccesses), prepared. */
const RECORD_SUCCESSES = new PreparedStatement(
  `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::text[])
           AS i(id, worker, status_code, attempted_at, latency_ms, body)),
       settled AS (
         UPDATE webhook_deliveries d SET status = $8, next_attempt_at = NULL, last_status_code = i.status_code,
                last_error = NULL, delivered_at = $7, locked_by = NULL, locked_until = NULL
         FROM input i WHERE d.id = i.id AND d.locked_by = i.worker
         RETURNING d.id, d.endpoint_id),
       attempt AS (
         INSERT INTO webhook_delivery_attempts (delivery_id, attempted_at, status_code, error, latency_ms, response_body)
         SELECT i.id, i.attempted_at, i.status_code, NULL, i.latency_ms, i.body FROM input i JOIN settled s ON s.id = i.id),
       healthy AS (
         UPDATE webhook_endpoints e SET failing_since = NULL, last_success_at = $7
         WHERE e.id IN (SELECT endpoint_id FROM settled)
           AND (e.failing_since IS NOT NULL OR e.last_success_at IS NULL OR e.last_success_at < $7::timestamptz - interval '1 minute'))
       SELECT id FROM settled`,
);

/** contextOf's two reads, prepared (the endpoint's with its secrets). */
const EVENTS_BY_ID = preparedOnFirstRun(
  (db) => `SELECT ${selectList(db.getRepository(Event).metadata, 'e')} FROM events e WHERE e.id = ANY($1::uuid[])`,
);
const ENDPOINTS_BY_ID = preparedOnFirstRun(
  (db) => `SELECT ${selectList(db.getRepository(WebhookEndpoint).metadata, 'e', ['secretCiphertext', 'previousSecretCiphertext'])}
           FROM webhook_endpoints e WHERE e.id = ANY($1::uuid[])`,
);

/** The filters of the deliveries list. */
export interface DeliveryListFilter {
  endpointId?: string;
  eventId?: string;
  status?: DeliveryStatus;
  cursor?: string;
  limit: number;
}

export interface ClaimOptions {
  workerId: string;
  limit: number;
  perEndpoint: number;
  leaseMs: number;
  now: Date;
}

/**
 * The delivery queue's SQL. Claims take, per enabled endpoint, only as many due deliveries as it has free slots
 * (in flight anywhere counts), so a slow or dead endpoint holds at most `perEndpoint` slots and never delays the
 * others. Claims are serialized by a transaction-scoped advisory lock so the per-endpoint count is exact across
 * processes; a claim is a lease, and a delivery whose lease ran out (its process died) is due again.
 */
export class DeliveryRepository {
  constructor(private readonly db: DataSource) {}

  /** Claims in the caller's transaction when given one (the worker writes its last successes in it first). */
  async claim(o: ClaimOptions, within?: EntityManager): Promise<ClaimedDelivery[]> {
    if (o.limit <= 0) return [];
    if (!within) return this.db.transaction((m) => this.claim(o, m));
    const m = within;
    // The in-flight count reads the index of leased deliveries, which keeps an entry for every delivery settled since
    // the table was last vacuumed: ~9,600 per endpoint after 40,000 deliveries. A bitmap scan visits each of their
    // rows on every claim (16 of a claim's 19 ms, auto_explain in the webhooks bench); a plain index scan marks the
    // entries of dead rows as it passes, so later claims skip them. Hence no bitmap scans for the rest of this
    // transaction, and a count that stops at perEndpoint. The CTEs are materialized so that each subquery runs once
    // per endpoint, not once per reference.
    await CLAIM_SETTINGS.run(m, []);
    const [rows]: [Record<string, unknown>[], number] = await CLAIM.run(m, [
      o.now,
      o.limit,
      o.perEndpoint,
      o.workerId,
      new Date(o.now.getTime() + o.leaseMs),
    ]);
    return rows.map((r) => ({
      id: r.id as string,
      appId: r.app_id as string,
      eventId: r.event_id as string,
      endpointId: r.endpoint_id as string,
      attempts: r.attempts as number,
      scheduleStart: r.schedule_start as number,
    }));
  }

  /** Hands this worker's deliveries back at once (a graceful stop that cannot wait for them). */
  async releaseAll(workerId: string): Promise<number> {
    const [, affected]: [unknown, number] = await this.db.query(
      `UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL, attempts = attempts - 1
       WHERE locked_by = $1 AND ${WAITING}`,
      [workerId],
    );
    return affected;
  }

  /**
   * Ends this worker's hold on a delivery after a failed attempt (successes are written in batches by the worker);
   * false when another worker holds it now. The status is the failed attempt's transition (delivery.transitions.ts).
   */
  async settleFailedAttempt(
    m: EntityManager,
    id: string,
    workerId: string,
    patch: { status: DeliveryStatus; nextAttemptAt: Date | null; lastStatusCode: number | null; lastError: string | null },
  ): Promise<boolean> {
    const [, affected]: [unknown, number] = await m.query(
      `UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6,
              locked_by = NULL, locked_until = NULL
       WHERE id = $1 AND locked_by = $2`,
      [id, workerId, patch.status, patch.nextAttemptAt, patch.lastStatusCode, storableOrNull(patch.lastError, ERROR_CHARS)],
    );
    return affected > 0;
  }

  /**
   * Successful attempts, many in one statement (one commit instead of one each): the attempt rows, the deliveries'
   * success, and their endpoints' health. Each delivery is written only if its worker still holds it; returns the
   * ids that were.
   */
  async recordSuccesses(m: EntityManager, rows: readonly SuccessRecord[], now: Date, status: DeliveryStatus): Promise<Set<string>> {
    const settled: { id: string }[] = await RECORD_SUCCESSES.run(m, [
      rows.map((r) => r.deliveryId),
      rows.map((r) => r.workerId),
      rows.map((r) => r.statusCode),
      rows.map((r) => r.attemptedAt),
      rows.map((r) => Math.round(r.latencyMs)),
      rows.map((r) => storableOrNull(r.responseBody, RESPONSE_BODY_CHARS)),
      now,
      status,
    ]);
    return new Set(settled.map((r) => r.id));
  }

  async recordAttempt(
    m: EntityManager,
    a: {
      deliveryId: string;
      attemptedAt: Date;
      statusCode: number | null;
      error: string | null;
      latencyMs: number;
      responseBody: string | null;
    },
  ): Promise<void> {
    await m.query(
      `INSERT INTO webhook_delivery_attempts (delivery_id, attempted_at, status_code, error, latency_ms, response_body)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        a.deliveryId,
        a.attemptedAt,
        a.statusCode,
        storableOrNull(a.error, ERROR_CHARS),
        Math.round(a.latencyMs),
        storableOrNull(a.responseBody, RESPONSE_BODY_CHARS),
      ],
    );
  }

  // ---- Queueing ---------------------------------------------------------------------------------------------------

  /** An event's deliveries: one per enabled endpoint that wants it; returns how many. */
  async insertForSubscribers(
    m: EntityManager,
    e: { appId: string; eventId: string; type: string; connectionId: string | null; dueAt: Date; status: DeliveryStatus },
  ): Promise<number> {
    // TypeORM answers an INSERT with its rows (an UPDATE with [rows, count]): count what RETURNING gives.
    const rows: { id: string }[] = await m.query(
      `INSERT INTO webhook_deliveries (app_id, event_id, endpoint_id, status, next_attempt_at)
       SELECT $1, $2, id, $6, $5 FROM webhook_endpoints
       WHERE app_id = $1 AND enabled AND ${endpointWantsEvent('webhook_endpoints', '$3::text', '$4::uuid')}
       RETURNING id`,
      [e.appId, e.eventId, e.type, e.connectionId, e.dueAt, e.status],
    );
    return rows.length;
  }

  /** A targeted event's one delivery (a test or a rule's notification); a test goes even to a disabled endpoint. */
  async insertForEndpoint(
    m: EntityManager,
    e: { appId: string; eventId: string; endpointId: string; dueAt: Date; evenIfDisabled: boolean; status: DeliveryStatus },
  ): Promise<number> {
    const rows: { id: string }[] = await m.query(
      `INSERT INTO webhook_deliveries (app_id, event_id, endpoint_id, status, next_attempt_at)
       SELECT $1, $2, id, $6, $4 FROM webhook_endpoints
       WHERE app_id = $1 AND id = $3 AND (enabled OR $5)
       RETURNING id`,
      [e.appId, e.eventId, e.endpointId, e.dueAt, e.evenIfDisabled, e.status],
    );
    return rows.length;
  }

  /** Wakes the delivery workers when the caller's transaction commits. */
  async notifyQueued(m: EntityManager | DataSource): Promise<void> {
    await m.query(`SELECT pg_notify($1, '')`, [DELIVERIES_CHANNEL]);
  }

  // ---- Sending again ----------------------------------------------------------------------------------------------

  /** Resend: one delivery due now with a fresh schedule, unless in flight (its attempt is already under way). */
  async resetOne(m: EntityManager, o: { appId: string; id: string; now: Date; from: readonly DeliveryStatus[]; status: DeliveryStatus }) {
    await m.query(
      `UPDATE webhook_deliveries SET status = $4, next_attempt_at = $3, schedule_start = attempts
       WHERE app_id = $1 AND id = $2 AND status = ANY($5::varchar[]) AND (locked_until IS NULL OR locked_until < $3)`,
      [o.appId, o.id, o.now, o.status, o.from],
    );
  }

  /** Recover, first half: the endpoint's deliveries of events since `since` that were given up on, due now again. */
  async resetForEndpointSince(
    m: EntityManager,
    o: { appId: string; endpointId: string; since: Date; now: Date; from: readonly DeliveryStatus[]; status: DeliveryStatus },
  ): Promise<number> {
    const [, reset]: [unknown, number] = await m.query(
      `UPDATE webhook_deliveries d SET status = $5, next_attempt_at = $4, schedule_start = d.attempts
       FROM events ev
       WHERE d.event_id = ev.id AND d.app_id = $1 AND d.endpoint_id = $2 AND ev.occurred_at >= $3 AND d.status = ANY($6::varchar[])`,
      [o.appId, o.endpointId, o.since, o.now, o.status, o.from],
    );
    return reset;
  }

  /** Recover, second half: deliveries for the events since `since` the endpoint never got one for and wants now. */
  async insertMissingForEndpointSince(
    m: EntityManager,
    o: { appId: string; endpointId: string; since: Date; now: Date; status: DeliveryStatus },
  ): Promise<number> {
    const added: { id: string }[] = await m.query(
      `INSERT INTO webhook_deliveries (app_id, event_id, endpoint_id, status, next_attempt_at)
       SELECT ev.app_id, ev.id, e.id, $5, $4
       FROM events ev JOIN webhook_endpoints e ON e.id = $2 AND e.app_id = ev.app_id
       WHERE ev.app_id = $1 AND ev.occurred_at >= $3 AND ev.type <> 'webhook.test'
         AND (ev.endpoint_id = e.id OR (ev.endpoint_id IS NULL AND ${endpointWantsEvent('e', 'ev.type', 'ev.connection_id')}))
       ON CONFLICT (event_id, endpoint_id) DO NOTHING
       RETURNING id`,
      [o.appId, o.endpointId, o.since, o.now, o.status],
    );
    return added.length;
  }

  /** The test of an endpoint claims its own delivery as it writes it, so no worker races it. */
  async claimForTest(m: EntityManager, o: { eventId: string; endpointId: string; holder: string; until: Date }): Promise<string> {
    const [rows]: [{ id: string }[], number] = await m.query(
      `UPDATE webhook_deliveries SET locked_by = $3, locked_until = $4, attempts = 1
       WHERE event_id = $1 AND endpoint_id = $2 RETURNING id`,
      [o.eventId, o.endpointId, o.holder, o.until],
    );
    return rows[0]!.id;
  }

  // ---- Endpoints, as delivery sees them -----------------------------------------------------------------------------

  /**
   * Notes a failed attempt on the endpoint (failing since the first of a run of failures) and returns its health.
   * The UPDATE locks the endpoint row, so `enabled` is current until the caller's transaction ends.
   */
  async markEndpointFailing(
    m: EntityManager,
    endpointId: string,
    attemptedAt: Date,
  ): Promise<{ failingSince: Date; enabled: boolean } | null> {
    const [rows]: [{ failing_since: Date; enabled: boolean }[], number] = await m.query(
      `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1 RETURNING failing_since, enabled`,
      [endpointId, attemptedAt],
    );
    const row = rows[0];
    return row ? { failingSince: new Date(row.failing_since), enabled: row.enabled } : null;
  }

  /** Disables an enabled endpoint; false when it already was. */
  async disableEndpoint(m: EntityManager, endpointId: string, reason: string, now: Date): Promise<boolean> {
    const [rows]: [unknown[], number] = await m.query(
      `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = $3 WHERE id = $1 AND enabled RETURNING id`,
      [endpointId, reason, now],
    );
    return rows.length > 0;
  }

  /** A disabled endpoint's waiting deliveries, given up on; those in flight are left to their attempt. */
  async failWaitingForEndpoint(m: EntityManager, o: { endpointId: string; from: readonly DeliveryStatus[]; status: DeliveryStatus }) {
    await m.query(
      `UPDATE webhook_deliveries SET status = $2, next_attempt_at = NULL
       WHERE endpoint_id = $1 AND status = ANY($3::varchar[]) AND locked_by IS NULL`,
      [o.endpointId, o.status, o.from],
    );
  }

  /** The events and endpoints (with their secrets) of a batch of claimed deliveries, in two queries. */
  async contextOf(claimed: readonly ClaimedDelivery[]): Promise<DeliveryContext> {
    const eventIds = [...new Set(claimed.map((c) => c.eventId))];
    const endpointIds = [...new Set(claimed.map((c) => c.endpointId))];
    const [events, endpoints] = await Promise.all([
      eventIds.length
        ? EVENTS_BY_ID.run<Partial<Event>[]>(this.db, [eventIds]).then((rows) => this.db.getRepository(Event).create(rows))
        : [],
      endpointIds.length
        ? ENDPOINTS_BY_ID.run<Partial<WebhookEndpoint>[]>(this.db, [endpointIds]).then((rows) =>
            this.db.getRepository(WebhookEndpoint).create(rows),
          )
        : [],
    ]);
    return { events: new Map(events.map((e) => [e.id, e])), endpoints: new Map(endpoints.map((e) => [e.id, e])) };
  }

  // ---- Reading ------------------------------------------------------------------------------------------------------

  async findForApp(appId: string, id: string): Promise<WebhookDelivery | null> {
    return this.db.getRepository(WebhookDelivery).findOneBy({ appId, id });
  }

  /** An app's deliveries, oldest first, a keyset page at a time. */
  async listForApp(appId: string, f: DeliveryListFilter): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
    const qb = this.db.getRepository(WebhookDelivery).createQueryBuilder('d').where('d.app_id = :appId', { appId });
    if (f.endpointId) qb.andWhere('d.endpoint_id = :endpointId', { endpointId: f.endpointId });
    if (f.eventId) qb.andWhere('d.event_id = :eventId', { eventId: f.eventId });
    if (f.status) qb.andWhere('d.status = :status', { status: f.status });
    return listKeysetPage(qb, { at: 'd.created_at', id: 'd.id', direction: 'ASC' }, f, (d) => ({ at: d.createdAt, id: d.id }));
  }

  /** The attempts of these deliveries, oldest first. */
  async attemptsOf(deliveryIds: readonly string[]): Promise<WebhookDeliveryAttempt[]> {
    if (deliveryIds.length === 0) return [];
    return this.db
      .getRepository(WebhookDeliveryAttempt)
      .find({ where: { deliveryId: In([...deliveryIds]) }, order: { attemptedAt: 'ASC' } });
  }

  // ---- The scheduler and the metrics --------------------------------------------------------------------------------

  /** Hands back deliveries whose holder died (lease ran out); returns how many. Their status stays as it is. */
  async releaseExpiredLeases(now: Date): Promise<number> {
    const [, released]: [unknown, number] = await this.db.query(
      `UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE locked_until < $1 FOR UPDATE SKIP LOCKED)`,
      [now],
    );
    return released;
  }

  /** Whether any delivery is due now and not held. */
  async anyDue(now: Date): Promise<boolean> {
    const [row]: { due: boolean }[] = await this.db.query(
      `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE ${WAITING} AND next_attempt_at <= $1
                        AND (locked_until IS NULL OR locked_until < $1)) AS due`,
      [now],
    );
    return row?.due ?? false;
  }

  /** Waiting deliveries by 'in-flight' (held) and 'pending', for the queue-depth gauge. */
  async waitingByState(): Promise<{ state: string; n: number }[]> {
    return this.db.query(
      `SELECT CASE WHEN locked_until IS NOT NULL THEN 'in-flight' ELSE 'pending' END AS state, count(*)::int AS n
       FROM webhook_deliveries WHERE ${WAITING} GROUP BY 1`,
    );
  }

  // ---- Retention ------------------------------------------------------------------------------------------------------

  /** Deletes up to `limit` attempts older than `cutoff`; returns how many. */
  async deleteAttemptsBefore(cutoff: Date, limit: number): Promise<number> {
    const [, n]: [unknown, number] = await this.db.query(
      `DELETE FROM webhook_delivery_attempts WHERE id IN (
        SELECT id FROM webhook_delivery_attempts WHERE attempted_at < $1 LIMIT $2)`,
      [cutoff, limit],
    );
    return n;
  }

  /**
   * Deletes up to `limit` events older than `cutoff` (their deliveries go with them, ON DELETE CASCADE), keeping
   * any with a delivery still waiting; returns how many.
   */
  async deleteSettledEventsBefore(cutoff: Date, limit: number): Promise<number> {
    const [, n]: [unknown, number] = await this.db.query(
      `DELETE FROM events WHERE id IN (
        SELECT e.id FROM events e WHERE e.occurred_at < $1
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.${WAITING})
        LIMIT $2)`,
      [cutoff, limit],
    );
    return n;
  }
}
