import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Job } from '../../entities/index.ts';
import { ClaimLoop } from '../db/claim-loop.ts';
import type { Deps } from '../deps.ts';
import type { JobHandler } from './job-handler.ts';
import { DEFAULT_RUNNER_OPTIONS, type JobRunnerOptions } from './job-runner.options.ts';
import { JOBS_CHANNEL, JobRepository, LeaseLost } from './job.repository.ts';

/**
 * Claims jobs, holds their leases and hands each to its handler (src/sync's refresh, which runs the steps through
 * the connection's provider). Knows no step and no provider. Any number of runners, in any number of processes, may
 * share one database.
 */
export class JobRunner {
  readonly workerId: string;
  private readonly options: JobRunnerOptions;
  private readonly jobs: JobRepository;
  private readonly loop: ClaimLoop<Job>;

  constructor(
    private readonly deps: Deps,
    private readonly handle: JobHandler,
    options: Partial<JobRunnerOptions> = {},
  ) {
    this.options = { ...DEFAULT_RUNNER_OPTIONS, ...options };
    this.workerId = this.options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.jobs = new JobRepository(deps.db);
    this.loop = new ClaimLoop<Job>({
      db: deps.db,
      logger: deps.logger,
      channel: JOBS_CHANNEL,
      pollMs: this.options.pollMs,
      concurrency: this.options.concurrency,
      what: 'jobs',
      onListenerState: (listening) => deps.metrics.listenerState(JOBS_CHANNEL, listening),
      claim: (free, inFlight) => this.claim(free, inFlight),
      execute: (job) => this.execute(job),
    });
  }

  /** Starts claiming: on every NOTIFY of a new job, when a slot frees up, and every pollMs. */
  start(): Promise<void> {
    return this.loop.start();
  }

  /**
   * Stops claiming, waits up to `graceMs` for jobs in flight, then hands the rest back to the queue so another
   * worker takes them at once (without waiting for their leases to run out).
   */
  async stop(graceMs = 10_000): Promise<void> {
    const left = await this.loop.stop(graceMs);
    if (left > 0) {
      const released = await this.jobs.releaseAll(this.workerId, this.deps.clock.now());
      this.deps.logger.warn({ released }, 'released unfinished jobs to the queue');
    }
  }

  /** Claims what fits and runs it to the end; for tests and tools that want no background loop. */
  runOnce(): Promise<number> {
    return this.loop.runOnce();
  }

  /** Runs until no job is due (jobs that wait on time or a user stay queued). */
  drain(maxRounds = 1000): Promise<number> {
    return this.loop.drain(maxRounds);
  }

  get activeJobs(): number {
    return this.loop.size;
  }

  private async claim(free: number, inFlight: readonly Job[]): Promise<Job[]> {
    const perProvider = new Map<string, number>();
    for (const j of inFlight) perProvider.set(j.providerKey, (perProvider.get(j.providerKey) ?? 0) + 1);
    const full = [...perProvider].filter(([, n]) => n >= this.options.perProviderConcurrency).map(([k]) => k);
    const claimed = await this.jobs.claim({
      workerId: this.workerId,
      limit: free,
      leaseMs: this.options.leaseMs,
      now: this.deps.clock.now(),
      excludeProviders: full,
    });
    // One claim may return several jobs of a provider with few free slots: hand the excess straight back.
    const kept: Job[] = [];
    for (const job of claimed) {
      const n = perProvider.get(job.providerKey) ?? 0;
      if (n < this.options.perProviderConcurrency) {
        perProvider.set(job.providerKey, n + 1);
        kept.push(job);
      } else {
        await this.jobs.unclaim(job.id, this.workerId);
      }
    }
    return kept;
  }

  /** Runs one claimed job, renewing its lease while it runs. Never throws. */
  private async execute(job: Job): Promise<void> {
    const log = this.deps.logger.child({ jobId: job.id, connectionId: job.connectionId, appId: job.appId });
    let leaseHeld = true;
    const renew = setInterval(
      () => {
        const until = new Date(this.deps.clock.now().getTime() + this.options.leaseMs);
        this.jobs.renewLease(job.id, this.workerId, until).then(
          (ok) => {
            if (!ok) leaseHeld = false;
          },
          (error: unknown) => log.warn({ err: error }, 'lease renewal failed'),
        );
      },
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
    const started = performance.now();
    try {
      const outcome = await this.handle(job, { workerId: this.workerId, held: () => leaseHeld });
      if (outcome) {
        const seconds = (performance.now() - started) / 1000;
        this.deps.metrics.jobRun(job.kind, outcome, seconds);
        log.info({ kind: job.kind, outcome, attempt: job.attempts, ms: Math.round(seconds * 1000) }, 'job run ended');
      }
    } catch (error) {
      if (error instanceof LeaseLost) log.warn('lost the lease on a job; another worker has it now');
      else log.error({ err: error }, 'job execution failed unexpectedly');
    } finally {
      clearInterval(renew);
    }
  }
}
