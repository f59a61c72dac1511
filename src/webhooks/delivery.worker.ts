import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { In, type EntityManager } from 'typeorm';
import { Event, WebhookEndpoint } from '../../entities/index.ts';
import { ClaimLoop } from '../db/claim-loop.ts';
import { isDatabaseUnavailable } from '../db/database-errors.ts';
import type { Deps } from '../deps.ts';
import { describeDuration, retryDelayMs } from './delivery-schedule.ts';
import { DeliveryRepository, type ClaimedDelivery, type SuccessRecord } from './delivery.repository.ts';
import { DELIVERIES_CHANNEL, recordEvent } from './event.recorder.ts';
import { openSecrets } from './endpoint.secrets.ts';
import { presentEndpoint } from './endpoint.presenter.ts';
import { signatureHeaders } from './webhook-signer.ts';
import type { SendOutcome } from './webhook-sender.ts';

export interface DeliveryContext {
  events: Map<string, Event>;
  endpoints: Map<string, WebhookEndpoint>;
}

/** What sends a signed request; the real one is WebhookSender (SSRF-safe got). */
export interface Sender {
  send(url: string, headers: Record<string, string>, body: string): Promise<SendOutcome>;
}

export interface DeliverySettings {
  /** Waits between attempts after the first (Standard Webhooks' schedule by default). */
  retryScheduleMs: number[];
  /** An endpoint with no success for this long is disabled. */
  disableAfterMs: number;
  leaseMs: number;
}

export interface DeliveryWorkerOptions extends DeliverySettings {
  concurrency: number;
  perEndpointConcurrency: number;
  pollMs: number;
  workerId?: string;
}

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

/** A 429 or 503 may ask for any wait; it is honoured up to a day, the longest wait of the default schedule. */
const MAX_RETRY_AFTER_MS = 86_400_000;

export interface AttemptResult {
  deliveryId: string;
  status: 'pending' | 'succeeded' | 'failed' | 'dead';
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  nextAttemptAt: Date | null;
}

/** The envelope subscribers receive: Standard Webhooks' type/timestamp/data, plus the event's identity. */
export function envelope(event: Event): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    appId: event.appId,
    userId: event.userId,
    connectionId: event.connectionId,
    sequence: event.sequence,
    data: event.data,
  });
}

/**
 * One attempt of one claimed delivery: sign, send, then record the attempt and the delivery's next state (and the
 * endpoint's health) in one transaction, fenced by the claim.
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
  async load(claimed: readonly ClaimedDelivery[]): Promise<DeliveryContext> {
    const eventIds = [...new Set(claimed.map((c) => c.eventId))];
    const endpointIds = [...new Set(claimed.map((c) => c.endpointId))];
    const [events, endpoints] = await Promise.all([
      eventIds.length ? this.deps.db.getRepository(Event).findBy({ id: In(eventIds) }) : [],
      endpointIds.length
        ? this.deps.db
            .getRepository(WebhookEndpoint)
            .createQueryBuilder('e')
            .addSelect(['e.secretCiphertext', 'e.previousSecretCiphertext'])
            .where('e.id IN (:...ids)', { ids: endpointIds })
            .getMany()
        : [],
    ]);
    return { events: new Map(events.map((e) => [e.id, e])), endpoints: new Map(endpoints.map((e) => [e.id, e])) };
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
    const body = envelope(event);
    const headers = signatureHeaders(event.id, sentAt, body, openSecrets(this.deps.cipher, endpoint, attemptedAt));
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
      held = await this.deliveries.recordSuccesses(
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
        status: 'succeeded',
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
      return await this.deliveries.recordSuccesses([record(b)], now);
    } catch (error) {
      this.deps.logger.warn(
        { err: error, deliveryId: b.claimed.id },
        'webhook success write failed; writing it without the response excerpt',
      );
      return this.deliveries.recordSuccesses([record(b, null)], now);
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
    let status: 'pending' | 'failed' | 'dead' = 'failed';
    let nextAttemptAt: Date | null = null;
    if (outcome.statusCode === 410) {
      // Gone: the subscriber says it wants nothing more. Stop at once rather than retrying for days.
      await this.disableEndpoint(m, endpoint, 'the endpoint answered HTTP 410 Gone', now);
      status = 'failed';
    } else {
      const inRound = claimed.attempts - claimed.scheduleStart;
      const told = (outcome.statusCode === 429 || outcome.statusCode === 503) && outcome.retryAfterMs !== null;
      const scheduled = retryDelayMs(this.settings.retryScheduleMs, inRound);
      // Retry-After is honoured while the schedule has attempts left; it never makes a delivery immortal.
      if (scheduled === null) status = 'dead';
      else {
        status = 'pending';
        nextAttemptAt = new Date(now.getTime() + (told ? Math.min(outcome.retryAfterMs!, MAX_RETRY_AFTER_MS) : scheduled));
      }
      // The UPDATE locks the endpoint row, so `enabled` is current until this transaction ends.
      const [rows]: [{ failing_since: Date; enabled: boolean }[], number] = await m.query(
        `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1 RETURNING failing_since, enabled`,
        [endpoint.id, attemptedAt],
      );
      const health = rows[0];
      let enabled = health?.enabled ?? false;
      if (enabled && now.getTime() - new Date(health!.failing_since).getTime() >= this.settings.disableAfterMs) {
        await this.disableEndpoint(m, endpoint, `no successful delivery for ${describeDuration(this.settings.disableAfterMs)}`, now);
        enabled = false;
      }
      if (!enabled && status === 'pending') {
        status = 'failed';
        nextAttemptAt = null;
      }
    }
    await this.deliveries.recordAttempt(m, {
      deliveryId: claimed.id,
      attemptedAt,
      statusCode: outcome.statusCode,
      error,
      latencyMs: outcome.latencyMs,
      responseBody: outcome.responseBody || null,
    });
    const held = await this.deliveries.settle(m, claimed.id, workerId, {
      status,
      nextAttemptAt,
      lastStatusCode: outcome.statusCode,
      lastError: error,
    });
    if (!held) throw new DeliveryLeaseLost(claimed.id);
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
    const [rows]: [unknown[], number] = await m.query(
      `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = $3 WHERE id = $1 AND enabled RETURNING id`,
      [endpoint.id, reason, now],
    );
    if (rows.length === 0) return;
    await m.query(
      `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL
       WHERE endpoint_id = $1 AND status = 'pending' AND locked_by IS NULL`,
      [endpoint.id],
    );
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

/** Another worker took the delivery over (this one's lease ran out): its outcome is not ours to record. */
export class DeliveryLeaseLost extends Error {
  constructor(id: string) {
    super(`lease on delivery ${id} lost`);
    this.name = 'DeliveryLeaseLost';
  }
}

/**
 * Claims due deliveries and attempts them: on every NOTIFY of new deliveries (so the first attempt goes out right
 * after the commit), when a slot frees, and every pollMs (the durable backstop for retries).
 */
export class DeliveryWorker {
  readonly workerId: string;
  private readonly loop: ClaimLoop<ClaimedDelivery & { context: DeliveryContext }>;
  private readonly deliveries: DeliveryRepository;
  private readonly attempter: DeliveryAttempter;

  constructor(
    private readonly deps: Deps,
    sender: Sender,
    private readonly options: DeliveryWorkerOptions,
  ) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:webhooks:${randomUUID().slice(0, 8)}`;
    this.deliveries = new DeliveryRepository(deps.db);
    this.attempter = new DeliveryAttempter(deps, sender, options);
    this.loop = new ClaimLoop<ClaimedDelivery & { context: DeliveryContext }>({
      db: deps.db,
      logger: deps.logger,
      channel: DELIVERIES_CHANNEL,
      pollMs: options.pollMs,
      concurrency: options.concurrency,
      // Deliveries are short: claim a quarter of the slots at a time rather than one per finished delivery.
      minClaim: Math.max(1, Math.floor(options.concurrency / 4)),
      what: 'webhook deliveries',
      onListenerState: (listening) => deps.metrics.listenerState(DELIVERIES_CHANNEL, listening),
      claim: (free) => this.claimWithContext(free),
      execute: (d) => this.execute(d, d.context),
    });
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  /** Stops claiming, waits up to graceMs for deliveries in flight, and hands the rest back to the queue. */
  async stop(graceMs: number): Promise<void> {
    const left = await this.loop.stop(graceMs);
    if (left > 0) {
      const released = await this.deliveries.releaseAll(this.workerId);
      this.deps.logger.warn({ released }, 'released unfinished webhook deliveries to the queue');
    }
  }

  get activeDeliveries(): number {
    return this.loop.size;
  }

  /** Claims what is due and attempts it; for tests and tools that want no background loop. */
  runOnce(): Promise<number> {
    return this.loop.runOnce();
  }

  /** Claims, then loads the batch's events and endpoints at once (not two queries per delivery). */
  private async claimWithContext(free: number): Promise<(ClaimedDelivery & { context: DeliveryContext })[]> {
    const claimed = await this.claim(free);
    if (claimed.length === 0) return [];
    const context = await this.attempter.load(claimed);
    return claimed.map((c) => ({ ...c, context }));
  }

  /** Runs until nothing is due now (retries scheduled for later stay queued). */
  drain(maxRounds = 1000): Promise<number> {
    return this.loop.drain(maxRounds);
  }

  private claim(free: number): Promise<ClaimedDelivery[]> {
    return this.deliveries.claim({
      workerId: this.workerId,
      limit: free,
      perEndpoint: this.options.perEndpointConcurrency,
      leaseMs: this.options.leaseMs,
      now: this.deps.clock.now(),
    });
  }

  private async execute(d: ClaimedDelivery, context: DeliveryContext): Promise<void> {
    try {
      await this.attempter.attempt(d, this.workerId, context);
    } catch (error) {
      const log = this.deps.logger.child({ deliveryId: d.id, endpointId: d.endpointId, eventId: d.eventId, appId: d.appId });
      if (error instanceof DeliveryLeaseLost) log.warn('lost the lease on a delivery; another worker has it now');
      else log.error({ err: error }, 'webhook delivery failed unexpectedly; it will be retried after its lease');
    }
  }
}
