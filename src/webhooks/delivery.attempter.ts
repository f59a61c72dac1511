import type { EntityManager } from 'typeorm';
import type { WebhookEndpoint } from '../../entities/index.ts';
import { isDatabaseUnavailable } from '../db/database-errors.ts';
import type { Deps } from '../deps.ts';
import { GONE_REASON, judgeFailure, noSuccessReason, shouldDisableEndpoint } from './delivery.attempt-policy.ts';
import { signedEnvelope } from './delivery.envelope.ts';
import { afterFailedAttempt, DELIVERY_TRANSITIONS } from './delivery.lifecycle.ts';
import { DeliveryRepository, type ClaimedDelivery, type SuccessRecord } from './delivery.repository.ts';
import { failWaitingDeliveries, recordSuccesses, settleFailedAttempt } from './delivery.transitions.ts';
import { DeliveryLeaseLost, type AttemptResult, type DeliveryContext, type DeliverySettings, type Sender } from './delivery.types.ts';
import { openSecrets } from './endpoint.secrets.ts';
import { presentEndpoint } from './endpoint.presenter.ts';
import { recordEvent } from './event.recorder.ts';
import type { SendOutcome } from './webhook-sender.ts';

/** Successes written together: at most this many, waiting at most this long for company. */
const SUCCESS_BATCH = 64;
const SUCCESS_BATCH_WAIT_MS = 5;

interface PendingSuccess {
  claimed: ClaimedDelivery;
  workerId: string;
  attemptedAt: Date;
  outcome: SendOutcome;
  resolve: (r: AttemptResult) => void;
  reject: (e: unknown) => void;
}

/**
 * One attempt of one claimed delivery: sign, send, then record the attempt and the delivery's next state (and the
 * endpoint's health) in one transaction, fenced by the claim. Used by the worker's loop and by a test of an endpoint.
 */
export class DeliveryAttempter {
  private readonly deliveries: DeliveryRepository;
  private successes: PendingSuccess[] = [];
  private successTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: Deps,
    private readonly sender: Sender,
    private readonly settings: DeliverySettings,
  ) {
    this.deliveries = new DeliveryRepository(deps.db);
  }

  /** The events and endpoints (with their secrets) of a batch of claimed deliveries, in two queries. */
  load(claimed: readonly ClaimedDelivery[]): Promise<DeliveryContext> {
    return this.deliveries.contextOf(claimed);
  }

  async attempt(claimed: ClaimedDelivery, workerId: string, context?: DeliveryContext): Promise<AttemptResult | null> {
    const { events, endpoints } = context ?? (await this.load([claimed]));
    const event = events.get(claimed.eventId);
    const endpoint = endpoints.get(claimed.endpointId);
    if (!event || !endpoint) return null; // deleted (endpoint) or pruned (event): the delivery went with it
    // The signature's timestamp is wall-clock time on purpose: receivers check it against their own clocks to
    // refuse replays, so it must be real even when the service runs on a simulated clock.
    const sentAt = new Date();
    const attemptedAt = this.deps.clock.now();
    const { body, headers } = signedEnvelope(event, sentAt, openSecrets(this.deps.cipher, endpoint, attemptedAt));
    const outcome = await this.sender.send(endpoint.url, headers, body);
    if (outcome.ok) return this.settleSuccess(claimed, workerId, attemptedAt, outcome);
    return this.deps.db.transaction((m) => this.settle(m, claimed, workerId, endpoint, attemptedAt, outcome));
  }

  /**
   * The common case, batched: successes that finish within a few milliseconds of each other are written together in
   * one statement (attempt rows, the deliveries' success, the endpoints' health), one commit instead of one each.
   * Each delivery is written only if this worker still holds it. A crash before the write leaves the delivery
   * claimed, so it is sent again after its lease: at least once, never lost.
   */
  private settleSuccess(claimed: ClaimedDelivery, workerId: string, attemptedAt: Date, outcome: SendOutcome): Promise<AttemptResult> {
    return new Promise((resolve, reject) => {
      this.successes.push({ claimed, workerId, attemptedAt, outcome, resolve, reject });
      if (this.successes.length >= SUCCESS_BATCH) void this.flushSuccesses();
      else this.successTimer ??= setTimeout(() => void this.flushSuccesses(), SUCCESS_BATCH_WAIT_MS);
    });
  }

  private async flushSuccesses(): Promise<void> {
    if (this.successTimer) clearTimeout(this.successTimer);
    this.successTimer = null;
    const batch = this.successes.splice(0);
    if (batch.length === 0) return;
    const now = this.deps.clock.now();
    const record = (b: PendingSuccess, responseBody = b.outcome.responseBody || null) => ({
      deliveryId: b.claimed.id,
      workerId: b.workerId,
      attemptedAt: b.attemptedAt,
      statusCode: b.outcome.statusCode!,
      latencyMs: b.outcome.latencyMs,
      responseBody,
    });
    let held: Set<string>;
    try {
      held = await recordSuccesses(
        this.deps.db,
        batch.map((b) => record(b)),
        now,
      );
    } catch (error) {
      // The database is away: no row can be written now. Each delivery is sent again after its lease.
      if (isDatabaseUnavailable(error)) {
        for (const b of batch) b.reject(error);
        return;
      }
      // One row that cannot be written must not fail the others (other endpoints, other apps): write each on its
      // own, and a row that still fails without its response excerpt is left to its lease, alone.
      this.deps.logger.warn({ err: error, batch: batch.length }, 'batched webhook success write failed; writing the batch row by row');
      held = new Set();
      for (const b of batch) {
        try {
          for (const id of await this.writeAlone(b, record)) held.add(id);
        } catch (rowError) {
          b.reject(rowError);
        }
      }
    }
    for (const b of batch) {
      if (!held.has(b.claimed.id)) {
        b.reject(new DeliveryLeaseLost(b.claimed.id));
        continue;
      }
      this.deps.metrics.deliveryAttempt('succeeded', b.outcome.latencyMs / 1000);
      b.resolve({
        deliveryId: b.claimed.id,
        status: DELIVERY_TRANSITIONS.succeeded.to,
        statusCode: b.outcome.statusCode,
        error: null,
        latencyMs: b.outcome.latencyMs,
        nextAttemptAt: null,
      });
    }
  }

  /** One success written by itself, without its response excerpt if that is what could not be stored. */
  private async writeAlone(b: PendingSuccess, record: (b: PendingSuccess, body?: string | null) => SuccessRecord): Promise<Set<string>> {
    const now = this.deps.clock.now();
    try {
      return await recordSuccesses(this.deps.db, [record(b)], now);
    } catch (error) {
      this.deps.logger.warn(
        { err: error, deliveryId: b.claimed.id },
        'webhook success write failed; writing it without the response excerpt',
      );
      return recordSuccesses(this.deps.db, [record(b, null)], now);
    }
  }

  /** A failed attempt: the retry schedule, Retry-After, 410 and the endpoint's failure record, in one transaction. */
  private async settle(
    m: EntityManager,
    claimed: ClaimedDelivery,
    workerId: string,
    endpoint: WebhookEndpoint,
    attemptedAt: Date,
    outcome: SendOutcome,
  ): Promise<AttemptResult | null> {
    const now = this.deps.clock.now();
    const error = outcome.error ?? `HTTP ${outcome.statusCode}`;
    const verdict = judgeFailure(outcome, claimed.attempts - claimed.scheduleStart, this.settings, now);
    let enabled = false;
    if (verdict.kind === 'gone') {
      await this.disableEndpoint(m, endpoint, GONE_REASON, now);
    } else {
      const health = await this.deliveries.markEndpointFailing(m, endpoint.id, attemptedAt);
      enabled = health?.enabled ?? false;
      if (enabled && shouldDisableEndpoint(health!.failingSince, now, this.settings)) {
        await this.disableEndpoint(m, endpoint, noSuccessReason(this.settings), now);
        enabled = false;
      }
    }
    const transition = afterFailedAttempt(verdict.kind, enabled);
    const nextAttemptAt = transition === 'retry-scheduled' && verdict.kind === 'retry' ? verdict.nextAttemptAt : null;
    await this.deliveries.recordAttempt(m, {
      deliveryId: claimed.id,
      attemptedAt,
      statusCode: outcome.statusCode,
      error,
      latencyMs: outcome.latencyMs,
      responseBody: outcome.responseBody || null,
    });
    const held = await settleFailedAttempt(m, transition, {
      id: claimed.id,
      workerId,
      nextAttemptAt,
      lastStatusCode: outcome.statusCode,
      lastError: error,
    });
    if (!held) throw new DeliveryLeaseLost(claimed.id);
    const status = DELIVERY_TRANSITIONS[transition].to;
    this.deps.metrics.deliveryAttempt(status === 'pending' ? 'retrying' : status, outcome.latencyMs / 1000);
    this.deps.logger.info(
      {
        deliveryId: claimed.id,
        endpointId: endpoint.id,
        eventId: claimed.eventId,
        appId: endpoint.appId,
        statusCode: outcome.statusCode,
        error,
        status,
        nextAttemptAt,
      },
      'webhook delivery attempt failed',
    );
    return { deliveryId: claimed.id, status, statusCode: outcome.statusCode, error, latencyMs: outcome.latencyMs, nextAttemptAt };
  }

  /** Disables an endpoint (once), gives up on its waiting deliveries, and tells the app's other endpoints. */
  private async disableEndpoint(m: EntityManager, endpoint: WebhookEndpoint, reason: string, now: Date): Promise<void> {
    if (!(await this.deliveries.disableEndpoint(m, endpoint.id, reason, now))) return;
    await failWaitingDeliveries(m, endpoint.id);
    this.deps.logger.warn({ endpointId: endpoint.id, appId: endpoint.appId, reason }, 'webhook endpoint disabled');
    await recordEvent(m, {
      appId: endpoint.appId,
      type: 'endpoint.disabled',
      userId: null,
      connectionId: null,
      occurredAt: now,
      data: { endpoint: { ...presentEndpoint(endpoint), enabled: false, disabledReason: reason }, reason },
    });
  }
}
