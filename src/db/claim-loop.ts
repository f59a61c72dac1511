import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.ts';

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
}

/**
 * The loop that job runners and delivery workers share: claim what fits, run it, claim again when a slot frees,
 * on every NOTIFY of new work, and every pollMs. stop() stops claiming and waits for what is in flight.
 */
export class ClaimLoop<T> {
  private readonly inFlight = new Map<T, Promise<void>>();
  private running = false;
  private wakeUp: (() => void) | null = null;
  /** A wake-up that came while claiming: claim again instead of sleeping. */
  private woken = false;
  private loopDone: Promise<void> | null = null;
  private listener: pg.Client | null = null;

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
    const all = Promise.allSettled([...this.inFlight.values()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    await this.listener?.end().catch(() => {});
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
        if (worthClaiming) claimed = await this.o.claim(free, this.items());
      } catch (error) {
        this.o.logger.error({ err: error }, `claiming ${this.o.what} failed`);
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
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.pollMs);
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
    const client = new pg.Client({ connectionString: options.url });
    client.on('notification', () => this.wake());
    client.on('error', (error) => this.o.logger.warn({ err: error }, `${this.o.what} notification listener failed; polling only`));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.o.channel}`);
      this.listener = client;
    } catch (error) {
      this.o.logger.warn({ err: error }, `could not LISTEN for ${this.o.what}; polling only`);
      await client.end().catch(() => {});
    }
  }
}
