import type { DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { DeliveryAttempter } from './delivery.attempter.ts';
import { DeliveryRepository } from './delivery.repository.ts';
import { recoverDeliveries, resendDelivery } from './delivery.transitions.ts';
import type { AttemptResult, Sender } from './delivery.types.ts';
import { recordEvent } from './event.recorder.ts';
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
  private readonly deliveries: DeliveryRepository;

  constructor(
    private readonly deps: Deps,
    private readonly endpoints: EndpointService,
    sender: Sender,
    private readonly settings: WebhookSettings,
  ) {
    this.attempter = new DeliveryAttempter(deps, sender, settings);
    this.deliveries = new DeliveryRepository(deps.db);
  }

  async list(appId: string, input: ListDeliveriesInput): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
    const page = await this.deliveries.listForApp(appId, input);
    const attempts = await this.deliveries.attemptsOf(page.items.map((d) => d.id));
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
    const delivery = await this.deliveries.findForApp(appId, id);
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
    // A delivery in flight is left alone: its attempt is already under way.
    await this.deps.db.transaction((m) => resendDelivery(m, appId, id, this.deps.clock.now()));
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
    const queued = await this.deps.db.transaction((m) => recoverDeliveries(m, appId, endpointId, since, now));
    return { queued };
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
      const id = await this.deliveries.claimForTest(m, {
        eventId: event.id,
        endpointId: endpoint.id,
        holder,
        until: new Date(now.getTime() + this.settings.leaseMs),
      });
      return { id, appId, eventId: event.id, endpointId: endpoint.id, attempts: 1, scheduleStart: 0 };
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
