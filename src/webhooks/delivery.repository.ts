import type { DataSource, EntityManager } from 'typeorm';
import { storableOrNull } from '../storable-text.ts';

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

  async claim(o: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (o.limit <= 0) return [];
    return this.db.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('cs_webhook_delivery_claim'))`);
      const [rows]: [Record<string, unknown>[], number] = await m.query(
        `WITH due AS (
           SELECT e.id AS endpoint_id,
                  $3::int - (SELECT count(*)::int FROM webhook_deliveries f WHERE f.endpoint_id = e.id AND f.locked_until >= $1) AS free,
                  (SELECT min(d.next_attempt_at) FROM webhook_deliveries d
                    WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= $1
                      AND (d.locked_until IS NULL OR d.locked_until < $1)) AS oldest
           FROM webhook_endpoints e WHERE e.enabled),
         picked AS (
           SELECT p.id FROM (SELECT * FROM due WHERE free > 0 AND oldest IS NOT NULL ORDER BY oldest) due
           CROSS JOIN LATERAL (
             SELECT d.id FROM webhook_deliveries d
             WHERE d.endpoint_id = due.endpoint_id AND d.status = 'pending' AND d.next_attempt_at <= $1
               AND (d.locked_until IS NULL OR d.locked_until < $1)
             ORDER BY d.next_attempt_at, d.id
             LIMIT due.free
             FOR UPDATE SKIP LOCKED) p
           LIMIT $2)
         UPDATE webhook_deliveries d SET locked_by = $4, locked_until = $5, attempts = d.attempts + 1
         FROM picked WHERE d.id = picked.id
         RETURNING d.id, d.app_id, d.event_id, d.endpoint_id, d.attempts, d.schedule_start`,
        [o.now, o.limit, o.perEndpoint, o.workerId, new Date(o.now.getTime() + o.leaseMs)],
      );
      return rows.map((r) => ({
        id: r.id as string,
        appId: r.app_id as string,
        eventId: r.event_id as string,
        endpointId: r.endpoint_id as string,
        attempts: r.attempts as number,
        scheduleStart: r.schedule_start as number,
      }));
    });
  }

  /** Hands this worker's deliveries back at once (a graceful stop that cannot wait for them). */
  async releaseAll(workerId: string): Promise<number> {
    const [, affected]: [unknown, number] = await this.db.query(
      `UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL, attempts = attempts - 1
       WHERE locked_by = $1 AND status = 'pending'`,
      [workerId],
    );
    return affected;
  }

  /**
   * Ends this worker's hold on a delivery after a failed attempt (successes are written in batches by the worker);
   * false when another worker holds it now.
   */
  async settle(
    m: EntityManager,
    id: string,
    workerId: string,
    patch: { status: string; nextAttemptAt: Date | null; lastStatusCode: number | null; lastError: string | null },
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
  async recordSuccesses(rows: readonly SuccessRecord[], now: Date): Promise<Set<string>> {
    const settled: { id: string }[] = await this.db.query(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::text[])
           AS i(id, worker, status_code, attempted_at, latency_ms, body)),
       settled AS (
         UPDATE webhook_deliveries d SET status = 'succeeded', next_attempt_at = NULL, last_status_code = i.status_code,
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
      [
        rows.map((r) => r.deliveryId),
        rows.map((r) => r.workerId),
        rows.map((r) => r.statusCode),
        rows.map((r) => r.attemptedAt),
        rows.map((r) => Math.round(r.latencyMs)),
        rows.map((r) => storableOrNull(r.responseBody, RESPONSE_BODY_CHARS)),
        now,
      ],
    );
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
}
