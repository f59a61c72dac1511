import pg from 'pg';
import type { Logger } from '../logger.ts';

export interface NotificationListenerOptions {
  url: string;
  channel: string;
  /** A name for logs ("jobs", "webhook deliveries"). */
  what: string;
  logger: Logger;
  /** Called on every NOTIFY on the channel. */
  onNotification: () => void;
  /** Called whenever the listener starts or stops listening (for the metrics gauge, and to catch up). */
  onStateChange?: (listening: boolean) => void;
  /** The first wait before reconnecting; it doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A dedicated connection that LISTENs on one channel, and comes back by itself: when the connection is lost (the
 * database restarted, a network blip) it reconnects with backoff until it listens again, and says so in the logs.
 * Before, one lost connection left a worker on polling alone until the process restarted.
 */
export class NotificationListener {
  private client: pg.Client | null = null;
  private listening = false;
  private stopped = true;
  private timer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private connecting: Promise<void> | null = null;
  private lostAt: number | null = null;
  private failedAttempts = 0;

  constructor(private readonly o: NotificationListenerOptions) {
    this.backoffMs = o.minBackoffMs ?? 100;
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Connects and LISTENs; when that fails, keeps trying in the background. Never throws. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  /** Try to reconnect now rather than at the next backoff step (the database just answered another query). */
  reconnectNow(): void {
    if (this.stopped || this.listening || this.connecting) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.connecting;
    const client = this.client;
    this.client = null;
    this.setListening(false);
    await client?.end().catch(() => {});
  }

  private connect(): Promise<void> {
    this.connecting ??= this.attempt().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async attempt(): Promise<void> {
    const client = new pg.Client({ connectionString: this.o.url, application_name: `connections-service:listen:${this.o.channel}` });
    client.on('notification', () => this.o.onNotification());
    // 'error' and 'end' both mean the connection is gone; handle whichever comes first, once.
    let gone = false;
    const lost = (error?: Error) => {
      if (gone) return;
      gone = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      if (this.stopped) return;
      this.lostAt ??= Date.now();
      if (this.listening)
        this.o.logger.warn(
          { err: error, channel: this.o.channel },
          `${this.o.what} notification listener lost its connection; reconnecting`,
        );
      this.setListening(false);
      this.schedule();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${this.o.channel}`);
    } catch (error) {
      this.failedAttempts += 1;
      // The first failure is worth a line; the rest of an outage is not (one line per try would flood the log).
      if (this.failedAttempts === 1) {
        this.o.logger.warn(
          { err: error, channel: this.o.channel },
          `could not LISTEN for ${this.o.what}; polling meanwhile, reconnecting with backoff`,
        );
      }
      lost();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    if (this.lostAt !== null || this.failedAttempts > 0) {
      this.o.logger.info(
        { channel: this.o.channel, downMs: this.lostAt === null ? null : Date.now() - this.lostAt, attempts: this.failedAttempts + 1 },
        `${this.o.what} notification listener is listening again`,
      );
    }
    this.lostAt = null;
    this.failedAttempts = 0;
    this.backoffMs = this.o.minBackoffMs ?? 100;
    this.setListening(true);
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxBackoffMs ?? 2_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, wait);
  }

  private setListening(listening: boolean): void {
    if (this.listening === listening) return;
    this.listening = listening;
    this.o.onStateChange?.(listening);
  }
}
