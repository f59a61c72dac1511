import client from 'prom-client';
import type { Clock } from '../clock.ts';

export type JobOutcome = 'succeeded' | 'failed' | 'retried' | 'rate-limited' | 'awaiting-challenge';
export type DeliveryOutcome = 'succeeded' | 'retrying' | 'failed' | 'dead';

/**
 * The cluster-wide readings a scrape takes from the database, each a repository's statement (src/cluster-readings.ts
 * wires them): the metrics name what they show and import no domain code.
 */
export interface ClusterReadings {
  /** Answers when the database does. */
  ping(): Promise<unknown>;
  /** Jobs queued, running or awaiting a challenge, by status. */
  activeJobsByStatus(): Promise<{ state: string; n: number }[]>;
  /** Waiting deliveries, `in-flight` (claimed) or `pending`. */
  waitingDeliveriesByState(): Promise<{ state: string; n: number }[]>;
  /** When the longest-overdue connection due for an automatic refresh became due; null when none is. */
  oldestRefreshDue(now: Date): Promise<{ oldest: Date | null }>;
}

/** How long a scrape waits for the database's cluster-wide readings (Prometheus' own timeout is 10 s). */
const DATABASE_SCRAPE_TIMEOUT_MS = 2_000;

/**
 * The service's Prometheus metrics, one registry per process (served at GET /metrics). Counters move where the work
 * happens; queue depths and refresh lag are read from the database when scraped, so they are true for the whole
 * cluster whichever replica answers.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly jobs: client.Counter<'kind' | 'outcome'>;
  private readonly jobSeconds: client.Histogram<'kind' | 'outcome'>;
  private readonly deliveries: client.Counter<'outcome'>;
  private readonly deliverySeconds: client.Histogram<'outcome'>;
  private readonly sweepBatch: client.Histogram;
  private readonly sweepQueued: client.Counter;
  private readonly listenerUp: client.Gauge<'channel'>;
  private readonly databaseUp: client.Gauge;
  private readonly httpRequests: client.Counter<'procedure' | 'status'>;
  private readonly httpSeconds: client.Histogram<'procedure' | 'status'>;
  /** Each NOTIFY channel this process listens on, and whether it is listening now (also shown by /healthz). */
  readonly listeners = new Map<string, boolean>();
  private db: { readings: ClusterReadings; clock: Clock } | null = null;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) client.collectDefaultMetrics({ register: this.registry, prefix: 'cs_' });
    const r = [this.registry];
    this.jobs = new client.Counter({
      name: 'cs_jobs_total',
      help: 'Job runs by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers: r,
    });
    this.jobSeconds = new client.Histogram({
      name: 'cs_job_duration_seconds',
      help: 'Time from claim to outcome of a job run',
      labelNames: ['kind', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: r,
    });
    this.deliveries = new client.Counter({
      name: 'cs_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome',
      labelNames: ['outcome'],
      registers: r,
    });
    this.deliverySeconds = new client.Histogram({
      name: 'cs_webhook_delivery_latency_seconds',
      help: 'HTTP latency of webhook delivery attempts',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: r,
    });
    this.sweepBatch = new client.Histogram({
      name: 'cs_refresh_sweep_batch_size',
      help: 'Connections queued for refresh per sweep batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 5000],
      registers: r,
    });
    this.sweepQueued = new client.Counter({
      name: 'cs_refresh_sweep_queued_total',
      help: 'Refresh jobs queued by the sweep',
      registers: r,
    });
    this.listenerUp = new client.Gauge({
      name: 'cs_notification_listener_up',
      help: 'Whether this process listens for new work on the channel (0 while it reconnects; it polls meanwhile)',
      labelNames: ['channel'],
      registers: r,
    });
    // `procedure`: a procedure path, a route pattern, `batch` or `unmatched` (src/api/access-log.ts), never a raw URL.
    this.httpRequests = new client.Counter({
      name: 'cs_http_requests_total',
      help: 'HTTP requests by procedure (or route) and status',
      labelNames: ['procedure', 'status'],
      registers: r,
    });
    this.httpSeconds = new client.Histogram({
      name: 'cs_http_request_duration_seconds',
      help: 'Time from a request arriving to its response sent, by procedure (or route) and status',
      labelNames: ['procedure', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    // collect() runs with the gauge as `this`: these reach the database and the clock of this Metrics.
    const fromDatabase = this.fromDatabase.bind(this);
    const clockNow = () => this.db?.clock.now() ?? new Date();
    this.databaseUp = new client.Gauge({
      name: 'cs_database_up',
      help: 'Whether the database answers (0: the cluster-wide gauges are missing from this scrape)',
      registers: r,
      async collect() {
        this.set((await fromDatabase((db) => db.ping())) ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'cs_queue_depth',
      help: 'Jobs and webhook deliveries by state (whole cluster)',
      labelNames: ['queue', 'state'],
      registers: r,
      async collect() {
        this.reset();
        // Read together, so a database that does not answer costs one scrape timeout, not two.
        const [jobs, deliveries] = await Promise.all([
          fromDatabase((db) => db.activeJobsByStatus()),
          fromDatabase((db) => db.waitingDeliveriesByState()),
        ]);
        for (const row of jobs ?? []) this.set({ queue: 'jobs', state: row.state }, row.n);
        for (const row of deliveries ?? []) this.set({ queue: 'deliveries', state: row.state }, row.n);
      },
    });
    new client.Gauge({
      name: 'cs_refresh_lag_seconds',
      help: 'Age of the oldest connection due for an automatic refresh (0 when none is due)',
      registers: r,
      async collect() {
        this.reset();
        const now = clockNow();
        const reading = await fromDatabase((db) => db.oldestRefreshDue(now));
        if (!reading) return;
        const { oldest } = reading;
        this.set(oldest ? (now.getTime() - oldest.getTime()) / 1000 : 0);
      },
    });
  }

  /** Lets the scrape read queue depths and refresh lag from the database. */
  observeDatabase(readings: ClusterReadings, clock: Clock): void {
    this.db = { readings, clock };
  }

  /**
   * A cluster-wide reading for a scrape, or null when there is no database or it does not answer in time: the
   * scrape then still serves this process's own counters (and cs_database_up 0), instead of failing whole.
   */
  private async fromDatabase<T>(read: (db: ClusterReadings) => Promise<T>): Promise<T | null> {
    if (!this.db) return null;
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        read(this.db.readings),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), DATABASE_SCRAPE_TIMEOUT_MS))),
      ]);
      return result;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  listenerState(channel: string, listening: boolean): void {
    this.listeners.set(channel, listening);
    this.listenerUp.set({ channel }, listening ? 1 : 0);
  }

  httpRequest(procedure: string, status: number, seconds: number): void {
    const labels = { procedure, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpSeconds.observe(labels, seconds);
  }

  jobRun(kind: string, outcome: JobOutcome, seconds: number): void {
    this.jobs.inc({ kind, outcome });
    this.jobSeconds.observe({ kind, outcome }, seconds);
  }

  deliveryAttempt(outcome: DeliveryOutcome, seconds: number): void {
    this.deliveries.inc({ outcome });
    this.deliverySeconds.observe({ outcome }, seconds);
  }

  sweepBatchQueued(n: number): void {
    this.sweepBatch.observe(n);
    this.sweepQueued.inc(n);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
