import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { EntityManager } from 'typeorm';
import { ClaimLoop } from '../db/claim-loop.ts';
import type { Deps } from '../deps.ts';
import { DeliveryAttempter } from './delivery.attempter.ts';
import { DELIVERIES_CHANNEL, DeliveryRepository, type ClaimedDelivery } from './delivery.repository.ts';
import { DeliveryLeaseLost, type DeliveryContext, type DeliverySettings, type Sender } from './delivery.types.ts';

export interface DeliveryWorkerOptions extends DeliverySettings {
  concurrency: number;
  perEndpointConcurrency: number;
  pollMs: number;
  workerId?: string;
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
    // Answered deliveries are recorded before any lease is handed back: releasing one would send it again.
    await this.attempter.writeQueuedSuccesses();
    if (left > 0) {
      const released = await this.deliveries.releaseAll(this.workerId);
      this.deps.logger.warn({ released }, 'released unfinished webhook deliveries to the queue');
    }
  }

  get activeDeliveries(): number {
    return this.loop.size;
  }

  /** Claims what is due and attempts it; for tests and tools that want no background loop. */
  async runOnce(): Promise<number> {
    const n = await this.loop.runOnce();
    await this.attempter.writeQueuedSuccesses();
    return n;
  }

  /** Claims, then loads the batch's events and endpoints at once (not two queries per delivery). */
  private async claimWithContext(free: number): Promise<(ClaimedDelivery & { context: DeliveryContext })[]> {
    // The slots of answered deliveries are free already, but their leases end only when their successes are
    // written: the claim writes them first, in its transaction, so its per-endpoint count sees those slots free too.
    const claimed = await this.attempter.writeQueuedSuccessesThen((m) => this.claim(free, m));
    if (claimed.length === 0) return [];
    const context = await this.attempter.load(claimed);
    return claimed.map((c) => ({ ...c, context }));
  }

  /** Runs until nothing is due now (retries scheduled for later stay queued). */
  async drain(maxRounds = 1000): Promise<number> {
    const n = await this.loop.drain(maxRounds);
    await this.attempter.writeQueuedSuccesses();
    return n;
  }

  private claim(free: number, m: EntityManager): Promise<ClaimedDelivery[]> {
    return this.deliveries.claim(
      {
        workerId: this.workerId,
        limit: free,
        perEndpoint: this.options.perEndpointConcurrency,
        leaseMs: this.options.leaseMs,
        now: this.deps.clock.now(),
      },
      m,
    );
  }

  /**
   * Holds the slot until the receiver answers; a failure also until its retry is written (it is rare, and its write
   * decides the endpoint's health). A success is written in the background with the next batch.
   */
  private async execute(d: ClaimedDelivery, context: DeliveryContext): Promise<void> {
    try {
      const sent = await this.attempter.send(d, this.workerId, context);
      if (!sent) return;
      if (sent.ok) sent.written.catch((error: unknown) => this.failed(d, error));
      else await sent.written;
    } catch (error) {
      this.failed(d, error);
    }
  }

  private failed(d: ClaimedDelivery, error: unknown): void {
    const log = this.deps.logger.child({ deliveryId: d.id, endpointId: d.endpointId, eventId: d.eventId, appId: d.appId });
    if (error instanceof DeliveryLeaseLost) log.warn('lost the lease on a delivery; another worker has it now');
    else log.error({ err: error }, 'webhook delivery failed unexpectedly; it will be retried after its lease');
  }
}
