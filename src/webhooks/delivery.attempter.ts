import type { EntityManager } from 'typeorm';
import type { Event, WebhookEndpoint } from '../../entities/index.ts';
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

/**
 * Successes written together: at most this many, waiting at most this long for company. Under load the worker's next
 * claim comes before the wait is over (it claims once a quarter of its slots answered) and writes them in its own
 * transaction; the wait is the backstop for a worker with nothing left to claim. At 5 ms most successes went out in
 * small batches of their own, a statement and a commit each, between the claims.
 */
const SUCCESS_BATCH = 64;
const SUCCESS_BATCH_WAIT_MS = 25;

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
  /**
   * What the deliveries of one claimed batch share, kept as long as the batch's context (keyed by its entities):
   * an event's envelope (the same body for every endpoint) and an endpoint's opened secrets (one decryption each).
   */
  private readonly bodies = new WeakMap<Event, string>();
  private readonly secrets = new WeakMap<WebhookEndpoint, { secrets: string[]; until: number }>();
  /** Batched success writes under way. */
  private readonly writing = new Set<Promise<void>>();

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

  /** One attempt, answered once its outcome is written (the test of an endpoint waits for it). */
  async attempt(claimed: ClaimedDelivery, workerId: string, context?: DeliveryContext): Promise<AttemptResult | null> {
    const sent = await this.send(claimed, workerId, context);
    if (!sent) return null;
    // Someone waits for this one: no company to wait for.
    if (sent.ok) void this.writeQueuedSuccesses();
    return sent.written;
  }

  /**
   * Sends one attempt and returns as soon as the receiver has answered: `ok` says whether it was a 2xx, and `written`
   * settles once the outcome is recorded. A success is written with the next batch (see settleSuccess), so the
   * worker's slot can take the next delivery meanwhile; the delivery stays leased until then, so nothing else sends it.
   */
  async send(
    claimed: ClaimedDelivery,
    workerId: string,
    context?: DeliveryContext,
  ): Promise<{ ok: boolean; written: Promise<AttemptResult | null> } | null> {
    const { events, endpoints } = context ?? (await this.load([claimed]));
    const event = events.get(claimed.eventId);
    const endpoint = endpoints.get(claimed.endpointId);
    if (!event || !endpoint) return null; // deleted (endpoint) or pruned (event): the delivery went with it
    // The signature's timestamp is wall-clock time on purpose: receivers check it against their own clocks to
    // refuse replays, so it must be real even when the service runs on a simulated clock.
    const sentAt = new Date();
    const attemptedAt = this.deps.clock.now();
    const { body, headers } = signedEnvelope(event, sentAt, this.secretsOf(endpoint, attemptedAt), this.bodies);
    const outcome = await this.sender.send(endpoint.url, headers, body);
    if (outcome.ok) return { ok: true, written: this.settleSuccess(claimed, workerId, attemptedAt, outcome) };
    return { ok: false, written: this.deps.db.transaction((m) => this.settle(m, claimed, workerId, endpoint, attemptedAt, outcome)) };
  }

  /** openSecrets, once per endpoint of a batch: again only when the previous secret's overlap has ended since. */
  private secretsOf(endpoint: WebhookEndpoint, now: Date): string[] {
    const known = this.secrets.get(endpoint);
    if (known && now.getTime() < known.until) return known.secrets;
    const secrets = openSecrets(this.deps.cipher, endpoint, now);
    const until = secrets.length > 1 ? endpoint.previousSecretExpiresAt!.getTime() : Infinity;
    this.secrets.set(endpoint, { secrets, until });
    return secrets;
  }

  /**
   * Writes the successes queued so far now, without waiting for company, and waits for writes already under way.
   * Never throws (a write that failed rejected its own deliveries' promises). The worker calls it before each claim:
   * a delivery stays leased until its success is written, and the claim counts leases per endpoint.
   */
  async writeQueuedSuccesses(): Promise<void> {
    if (this.successes.length > 0) void this.flushSuccesses();
    await Promise.allSettled(this.writing);
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

  private flushSuccesses(): Promise<void> {
    const batch = this.takeQueuedSuccesses();
    if (batch.length === 0) return Promise.resolve();
    return this.track(this.writeSuccesses(batch));
  }

  /**
   * Writes the successes queued so far and then runs `then` (the worker's next claim) in the same transaction: one
   * commit for both, and the claim's per-endpoint count already sees those leases released. If the batch cannot be
   * written for another reason than the database being away, it is written the usual way (row by row if need be),
   * and `then` runs in a transaction of its own.
   */
  async writeQueuedSuccessesThen<T>(then: (m: EntityManager) => Promise<T>): Promise<T> {
    const batch = this.takeQueuedSuccesses();
    // Writes already under way end first, so their leases are released before the claim counts them.
    await Promise.allSettled(this.writing);
    if (batch.length === 0) return this.deps.db.transaction(then);
    let written: { held: Set<string>; result: T };
    try {
      written = await this.deps.db.transaction(async (m) => {
        const held = await recordSuccesses(
          m,
          batch.map((b) => successRecord(b)),
          this.deps.clock.now(),
        );
        return { held, result: await then(m) };
      });
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        for (const b of batch) b.reject(error);
        throw error;
      }
      await this.track(this.writeSuccesses(batch));
      return this.deps.db.transaction(then);
    }
    this.resolveSuccesses(batch, written.held);
    return written.result;
  }

  private takeQueuedSuccesses(): PendingSuccess[] {
    if (this.successTimer) clearTimeout(this.successTimer);
    this.successTimer = null;
    return this.successes.splice(0);
  }

  private track(writing: Promise<void>): Promise<void> {
    const tracked = writing.finally(() => this.writing.delete(tracked));
    this.writing.add(tracked);
    return tracked;
  }

  private async writeSuccesses(batch: PendingSuccess[]): Promise<void> {
    let held: Set<string>;
    try {
      held = await recordSuccesses(
        this.deps.db,
        batch.map((b) => successRecord(b)),
        this.deps.clock.now(),
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
          for (const id of await this.writeAlone(b)) held.add(id);
        } catch (rowError) {
          b.reject(rowError);
        }
      }
    }
    this.resolveSuccesses(batch, held);
  }

  /** Answers each success of a written batch: recorded, or another worker holds it now. */
  private resolveSuccesses(batch: readonly PendingSuccess[], held: Set<string>): void {
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
  private async writeAlone(b: PendingSuccess): Promise<Set<string>> {
    const now = this.deps.clock.now();
    try {
      return await recordSuccesses(this.deps.db, [successRecord(b)], now);
    } catch (error) {
      this.deps.logger.warn(
        { err: error, deliveryId: b.claimed.id },
        'webhook success write failed; writing it without the response excerpt',
      );
      return recordSuccesses(this.deps.db, [successRecord(b, null)], now);
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

function successRecord(b: PendingSuccess, responseBody = b.outcome.responseBody || null): SuccessRecord {
  return {
    deliveryId: b.claimed.id,
    workerId: b.workerId,
    attemptedAt: b.attemptedAt,
    statusCode: b.outcome.statusCode!,
    latencyMs: b.outcome.latencyMs,
    responseBody,
  };
}
