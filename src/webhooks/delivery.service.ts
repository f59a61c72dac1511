import { In } from 'typeorm';
import { WebhookDelivery, WebhookDeliveryAttempt, type DeliveryStatus } from '../../entities/index.ts';
import { decodeCursor, keysetPage } from '../db/keyset-cursor.ts';
import type { Deps } from '../deps.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { DeliveryAttempter, type AttemptResult, type Sender } from './delivery.worker.ts';
import { DELIVERIES_CHANNEL, recordEvent } from './event.recorder.ts';
import type { EndpointService } from './endpoint.service.ts';
import type { ListDeliveriesInput } from './webhook.schemas.ts';
import type { WebhookSettings } from './webhook.settings.ts';

export interface DeliveryAttemptView {
  attemptedAt: Date;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
}

export interface DeliveryView {
  id: string;
  eventId: string;
  endpointId: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
  /** Oldest first. */
  attemptLog: DeliveryAttemptView[];
}

/** Deliveries as apps see them, and the ways to send again: resend one, recover an endpoint, test it. */
export class DeliveryService {
  private readonly attempter: DeliveryAttempter;

  constructor(
    private readonly deps: Deps,
    private readonly endpoints: EndpointService,
    sender: Sender,
    private readonly settings: WebhookSettings,
  ) {
    this.attempter = new DeliveryAttempter(deps, sender, settings);
  }

  async list(appId: string, input: ListDeliveriesInput): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
    const qb = this.deps.db.getRepository(WebhookDelivery).createQueryBuilder('d').where('d.app_id = :appId', { appId });
    if (input.endpointId) qb.andWhere('d.endpoint_id = :endpointId', { endpointId: input.endpointId });
    if (input.eventId) qb.andWhere('d.event_id = :eventId', { eventId: input.eventId });
    if (input.status) qb.andWhere('d.status = :status', { status: input.status });
    if (input.cursor) {
      const after = decodeCursor(input.cursor);
      qb.andWhere('(d.created_at, d.id) > (:at, :id)', { at: after.at, id: after.id });
    }
    const rows = await qb
      .orderBy('d.created_at', 'ASC')
      .addOrderBy('d.id', 'ASC')
      .limit(input.limit + 1)
      .getMany();
    const page = keysetPage(rows, input.limit, (d) => ({ at: d.createdAt, id: d.id }));
    const attempts = page.items.length
      ? await this.deps.db
          .getRepository(WebhookDeliveryAttempt)
          .find({ where: { deliveryId: In(page.items.map((d) => d.id)) }, order: { attemptedAt: 'ASC' } })
      : [];
    return {
      items: page.items.map((d) =>
        presentDelivery(
          d,
          attempts.filter((a) => a.deliveryId === d.id),
        ),
      ),
      nextCursor: page.nextCursor,
    };
  }

  /** Sends a delivery again now, with the same webhook-id, and a fresh retry schedule. */
  async resend(appId: string, id: string): Promise<DeliveryView> {
    const delivery = await this.deps.db.getRepository(WebhookDelivery).findOneBy({ appId, id });
    if (!delivery) throw AppError.notFound('webhook delivery', id);
    const endpoint = await this.endpoints.find(appId, delivery.endpointId);
    if (!endpoint.enabled) {
      throw new AppError(
        ErrorCode.PRECONDITION_FAILED,
        `endpoint ${endpoint.id} is disabled; enable it with webhooks.endpoints.update first`,
        {
          endpointId: endpoint.id,
        },
      );
    }
    await this.deps.db.transaction(async (m) => {
      // A delivery in flight is left alone: its attempt is already under way.
      await m.query(
        `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, schedule_start = attempts
         WHERE app_id = $1 AND id = $2 AND (locked_until IS NULL OR locked_until < $3)`,
        [appId, id, this.deps.clock.now()],
      );
      await m.query(`SELECT pg_notify($1, '')`, [DELIVERIES_CHANNEL]);
    });
    return (await this.list(appId, { eventId: delivery.eventId, endpointId: delivery.endpointId, limit: 1 })).items[0]!;
  }

  /**
   * Queues again every event since `since` that the endpoint has not received: deliveries that failed or died are
   * reset, and events it never got a delivery for (it was disabled, or filtered them then) are added if its
   * filters take them now. Returns how many deliveries were queued.
   */
  async recover(appId: string, endpointId: string, since: Date): Promise<{ queued: number }> {
    const endpoint = await this.endpoints.find(appId, endpointId);
    if (!endpoint.enabled) {
      throw new AppError(
        ErrorCode.PRECONDITION_FAILED,
        `endpoint ${endpointId} is disabled; enable it with webhooks.endpoints.update first`,
        { endpointId },
      );
    }
    const now = this.deps.clock.now();
    return this.deps.db.transaction(async (m) => {
      const [, reset]: [unknown, number] = await m.query(
        `UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = $4, schedule_start = d.attempts
         FROM events ev
         WHERE d.event_id = ev.id AND d.app_id = $1 AND d.endpoint_id = $2 AND ev.occurred_at >= $3 AND d.status IN ('failed', 'dead')`,
        [appId, endpointId, since, now],
      );
      const added: { id: string }[] = await m.query(
        `INSERT INTO webhook_deliveries (app_id, event_id, endpoint_id, status, next_attempt_at)
         SELECT ev.app_id, ev.id, e.id, 'pending', $4
         FROM events ev JOIN webhook_endpoints e ON e.id = $2 AND e.app_id = ev.app_id
         WHERE ev.app_id = $1 AND ev.occurred_at >= $3 AND ev.type <> 'webhook.test'
           AND (ev.endpoint_id = e.id OR (ev.endpoint_id IS NULL
             AND (e.event_types IS NULL OR ev.type = ANY(e.event_types) OR split_part(ev.type, '.', 1) || '.*' = ANY(e.event_types))
             AND (e.connection_ids IS NULL OR ev.connection_id IS NULL OR ev.connection_id = ANY(e.connection_ids))))
         ON CONFLICT (event_id, endpoint_id) DO NOTHING
         RETURNING id`,
        [appId, endpointId, since, now],
      );
      const queued = reset + added.length;
      if (queued > 0) await m.query(`SELECT pg_notify($1, '')`, [DELIVERIES_CHANNEL]);
      return { queued };
    });
  }

  /**
   * Sends a `webhook.test` event to the endpoint now and answers with the outcome. The delivery is claimed by
   * this call when it is written, so no worker races it; if it fails it joins the retry schedule like any other.
   */
  async test(appId: string, endpointId: string): Promise<AttemptResult & { eventId: string }> {
    const endpoint = await this.endpoints.find(appId, endpointId);
    const now = this.deps.clock.now();
    const holder = `test:${process.pid}:${endpointId}`;
    const claimed = await this.deps.db.transaction(async (m) => {
      const event = await recordEvent(m, {
        appId,
        type: 'webhook.test',
        userId: null,
        connectionId: null,
        occurredAt: now,
        endpointId: endpoint.id,
        data: { endpointId: endpoint.id, message: 'This is a test event from the connections service.' },
      });
      const [rows]: [{ id: string }[], number] = await m.query(
        `UPDATE webhook_deliveries SET locked_by = $3, locked_until = $4, attempts = 1
         WHERE event_id = $1 AND endpoint_id = $2 RETURNING id`,
        [event.id, endpoint.id, holder, new Date(now.getTime() + this.settings.leaseMs)],
      );
      return { id: rows[0]!.id, appId, eventId: event.id, endpointId: endpoint.id, attempts: 1, scheduleStart: 0 };
    });
    const result = await this.attempter.attempt(claimed, holder);
    return { ...result!, eventId: claimed.eventId };
  }
}

function presentDelivery(d: WebhookDelivery, attempts: WebhookDeliveryAttempt[]): DeliveryView {
  return {
    id: d.id,
    eventId: d.eventId,
    endpointId: d.endpointId,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: d.createdAt,
    deliveredAt: d.deliveredAt,
    attemptLog: attempts.map((a) => ({ attemptedAt: a.attemptedAt, statusCode: a.statusCode, error: a.error, latencyMs: a.latencyMs })),
  };
}
