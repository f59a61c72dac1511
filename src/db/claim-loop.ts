import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.ts';
import { NotificationListener } from './notification-listener.ts';

/** While the listener is down, the loop polls at least this often, so new work still starts within about this long. */
export const UNLISTENED_POLL_MS = 100;
/** A run of failed claims (the database is down) is logged once, then at most once per this long. */
const CLAIM_FAILURE_LOG_MS = 30_000;

export interface ClaimLoopOptions<T> {
  db: DataSource;
  logger: Logger;
  /** NOTIFY channel that announces new work; polling alone still works without it. */
  channel: string;
  pollMs: number;
  concurrency: number;
  /**
   * While work is in flight, claim again only once this many slots are free (default 1): short work (webhook
   * deliveries) then claims in batches instead of one claim per finished item.
   */
  minClaim?: number;
  /** Claims up to `free` items; `inFlight` is what this process is running now. */
  claim: (free: number, inFlight: readonly T[]) => Promise<T[]>;
  /** Runs one claimed item. Must not throw (a throw is logged). */
  execute: (item: T) => Promise<void>;
  /** A name for logs. */
  what: string;
  /** Told whenever the NOTIFY listener starts or stops listening (the metrics gauge). */
  onListenerState?: (listening: boolean) => void;
}

/**
 * The loop that job runners and delivery workers share: claim what fits, run it, claim again when a slot frees,
 * on every NOTIFY of new work, and every pollMs. stop() stops claiming and waits for what is in flight. When the
 * NOTIFY listener is down (the database restarted), it reconnects by itself, and until it does the loop polls every
 * UNLISTENED_POLL_MS instead of pollMs.
 */
export class ClaimLoop<T> {
  private readonly inFlight = new Map<T, Promise<void>>();
  private running = false;
  private wakeUp: (() => void) | null = null;
  /** A wake-up that came while claiming: claim again instead of sleeping. */
  private woken = false;
  private loopDone: Promise<void> | null = null;
  private listener: NotificationListener | null = null;
  /** Since when claims have been failing, and when that was last logged. */
  private failingSince: number | null = null;
  private failureLoggedAt = 0;

  constructor(private readonly o: ClaimLoopOptions<T>) {}

  get size(): number {
    return this.inFlight.size;
  }

  items(): T[] {
    return [...this.inFlight.keys()];
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.listen();
    this.loopDone = this.loop();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Claims what fits and runs it to the end, without the background loop (tests and tools). */
  async runOnce(): Promise<number> {
    const claimed = await this.o.claim(this.o.concurrency, []);
    await Promise.all(claimed.map((item) => this.o.execute(item)));
    return claimed.length;
  }

  /** runOnce until nothing is due (work that waits on time or a user stays queued). */
  async drain(maxRounds = 1000): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxRounds; i++) {
      const n = await this.runOnce();
      if (n === 0) return total;
      total += n;
    }
    return total;
  }

  /** Stops claiming and waits up to graceMs for the work in flight; returns how many items are still running. */
  async stop(graceMs: number): Promise<number> {
    this.running = false;
    this.wake();
    await this.loopDone;
    const all = Promise.allSettled(this.inFlight.values());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    await this.listener?.stop();
    this.listener = null;
    return this.inFlight.size;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let claimed: T[] = [];
      const free = this.o.concurrency - this.inFlight.size;
      const worthClaiming = this.inFlight.size === 0 || free >= (this.o.minClaim ?? 1);
      try {
        if (worthClaiming) {
          claimed = await this.o.claim(free, this.items());
          this.claimSucceeded();
        }
      } catch (error) {
        this.claimFailed(error);
      }
      for (const item of claimed) {
        const done = this.o
          .execute(item)
          .catch((error: unknown) => this.o.logger.error({ err: error }, `${this.o.what} failed unexpectedly`))
          .finally(() => {
            this.inFlight.delete(item);
            this.wake();
          });
        this.inFlight.set(item, done);
      }
      if (!this.running) break;
      if ((claimed.length > 0 || this.woken) && this.o.concurrency - this.inFlight.size >= (this.o.minClaim ?? 1)) continue;
      const listening = this.listener?.isListening ?? false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, listening ? this.o.pollMs : Math.min(this.o.pollMs, UNLISTENED_POLL_MS));
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  private async listen(): Promise<void> {
    const options = this.o.db.options as { url?: string };
    if (!options.url) return;
    this.listener = new NotificationListener({
      url: options.url,
      channel: this.o.channel,
      what: this.o.what,
      logger: this.o.logger,
      onNotification: () => this.wake(),
      onStateChange: (listening) => {
        this.o.onListenerState?.(listening);
        // Work may have been queued while nobody listened: look at once.
        if (listening) this.wake();
      },
    });
    await this.listener.start();
  }

  private claimSucceeded(): void {
    if (this.failingSince !== null) {
      this.o.logger.info({ downMs: Date.now() - this.failingSince }, `claiming ${this.o.what} works again`);
      this.failingSince = null;
    }
    // The database answers: no reason for the listener to wait out its backoff.
    this.listener?.reconnectNow();
  }

  private claimFailed(error: unknown): void {
    const now = Date.now();
    if (this.failingSince === null) this.failingSince = now;
    if (now - this.failureLoggedAt < CLAIM_FAILURE_LOG_MS) return;
    this.failureLoggedAt = now;
    this.o.logger.error({ err: error, failingForMs: now - this.failingSince }, `claiming ${this.o.what} failed`);
  }
}
