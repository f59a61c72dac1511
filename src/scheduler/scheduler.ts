import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { Deps } from '../deps.ts';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';
import { expireLapsedConsents, warnExpiringConsents } from './consent.sweep.ts';
import { releaseExpiredLeases, wakeForDueDeliveries } from './recovery.sweep.ts';
import { sweepDueRefreshes } from './refresh.sweep.ts';
import { pruneOldRecords } from './retention.sweep.ts';
import { PostgresRunCoordinator } from './run-coordinator.ts';
import { SCHEDULE_NAMES, SCHEDULES, type ScheduleName } from './schedules.ts';

export interface SchedulerOptions {
  patterns: Record<ScheduleName, string>;
  sweepBatchSize: number;
  sweepMaxBatches: number;
  consentWarningDays: number;
  eventRetentionMs: number;
  attemptRetentionMs: number;
  jobRetentionMs: number;
}

/**
 * The scheduler role: one node-cron task per entry of SCHEDULES. A tick only claims or queues work (refresh jobs,
 * released leases, a wake-up for delivery workers); the job runner and the delivery worker do it. Ticks are safe on
 * any number of replicas, and the ones that must run once per slot go through the Postgres RunCoordinator.
 */
export class Scheduler {
  readonly replicaId = `${hostname()}:${process.pid}:scheduler:${randomUUID().slice(0, 8)}`;
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private readonly coordinator: PostgresRunCoordinator;
  private readonly cronLogger: CronLogger;

  constructor(
    private readonly deps: Deps,
    private readonly services: Services,
    private readonly options: SchedulerOptions,
  ) {
    this.coordinator = new PostgresRunCoordinator(deps.db, this.replicaId);
    this.cronLogger = cronLoggerFor(deps.logger);
  }

  /** What each tick does; public so tests can run ticks on a simulated clock without waiting for cron. */
  readonly ticks: Record<ScheduleName, () => Promise<unknown>> = {
    refreshSweep: () => sweepDueRefreshes(this.deps, { batchSize: this.options.sweepBatchSize, maxBatches: this.options.sweepMaxBatches }),
    consentSweep: async () => ({
      warned: await warnExpiringConsents(this.deps, { warnDays: this.options.consentWarningDays, batchSize: this.options.sweepBatchSize }),
      expired: await expireLapsedConsents(this.deps, { batchSize: this.options.sweepBatchSize }),
    }),
    recovery: async () => ({
      ...(await releaseExpiredLeases(this.deps)),
      challengesExpired: await this.services.jobs.expireChallenges(this.options.sweepBatchSize),
      // A user approving in the bank's app moves the job on even with no page open to poll for it.
      decoupledRechecked: await this.services.jobs.recheckDecoupledChallenges(this.options.sweepBatchSize),
    }),
    deliveryBackstop: () => wakeForDueDeliveries(this.deps),
    retention: () =>
      pruneOldRecords(this.deps, {
        eventRetentionMs: this.options.eventRetentionMs,
        attemptRetentionMs: this.options.attemptRetentionMs,
        jobRetentionMs: this.options.jobRetentionMs,
        batchSize: this.options.sweepBatchSize,
      }),
  };

  start(): void {
    // node-cron's own lines (a missed execution, shutdown) as JSON on our logger, not coloured text on the console.
    cron.setLogger(this.cronLogger);
    for (const name of SCHEDULE_NAMES) {
      const task = cron.createTask(this.options.patterns[name], () => this.run(name), {
        name,
        noOverlap: true,
        logger: this.cronLogger,
        ...(SCHEDULES[name].oncePerSlot ? { distributed: true, runCoordinator: this.coordinator, distributedLease: 3_600_000 } : {}),
      });
      void task.start();
      this.tasks.push(task);
    }
  }

  /** Stops the schedules and waits for ticks in progress. */
  async stop(): Promise<void> {
    await Promise.all(this.tasks.map(async (t) => t.destroy()));
    this.tasks.length = 0;
    await Promise.allSettled(this.running);
  }

  /** Runs one tick now, logging what it did; never throws. */
  async run(name: ScheduleName): Promise<unknown> {
    const started = performance.now();
    const tick = this.ticks[name]();
    this.running.add(tick);
    try {
      const result = await tick;
      this.deps.logger.debug({ tick: name, result, ms: Math.round(performance.now() - started) }, 'scheduler tick');
      return result;
    } catch (error) {
      this.deps.logger.error({ err: error, tick: name }, 'scheduler tick failed');
      return null;
    } finally {
      this.running.delete(tick);
    }
  }
}

/** node-cron's logger interface on pino. */
function cronLoggerFor(logger: Logger): CronLogger {
  const log = logger.child({ component: 'node-cron' });
  const entry = (message: string | Error, err?: Error) =>
    message instanceof Error ? ([{ err: message }, message.message] as const) : ([{ err }, message] as const);
  return {
    info: (message) => log.info(message),
    warn: (message) => log.warn(message),
    error: (message, err) => log.error(...entry(message, err)),
    debug: (message, err) => log.debug(...entry(message, err)),
  };
}
