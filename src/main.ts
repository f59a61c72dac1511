import type { Server } from 'node:http';
import { createHttpApp, createOpsApp } from './api/http-app.ts';
import { bootstrap } from './bootstrap.ts';
import { ConfigError, loadConfig, rateLimitsFrom, type Config } from './config.ts';
import { callbackUrlOf } from './connect/connect-settings.ts';
import { JobRunner } from './jobs/job-runner.ts';
import type { JobRunnerOptions } from './jobs/job-runner.options.ts';
import { syncJobs } from './sync/sync-execution.ts';
import { DeliveryWorker } from './webhooks/delivery.worker.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { SCHEDULE_NAMES, SCHEDULES, type ScheduleName } from './scheduler/schedules.ts';
import { createLogger, routeProcessOutput } from './logger.ts';
import { ApiKeyCache } from './apps/api-key-cache.ts';
import { replacedKeysListener } from './apps/replaced-keys.listener.ts';
import type { NotificationListener } from './db/notification-listener.ts';

// Boot: config → database → roles (api, worker, scheduler) → graceful stop.

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    // Every line the service prints is one JSON object, a bad configuration included.
    createLogger('info', 2).fatal({ problems: error.problems }, error.message);
    process.exit(1);
  }
  throw error;
}
const logger = createLogger(config.LOG_LEVEL);
routeProcessOutput(logger);

// Signal handlers go in first: a SIGTERM that arrives while we are still starting is kept and honoured as soon as
// everything is up, so there is always an orderly stop and exit code 0.
let stopHandler: ((signal: string) => void) | null = null;
let pendingSignal: string | null = null;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => (stopHandler ? stopHandler(signal) : (pendingSignal ??= signal)));
}

const runtime = await bootstrap(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'start-up failed');
  process.exit(1);
});

let server: Server | null = null;
let apiKeyCache: ApiKeyCache | null = null;
let apiKeyListener: NotificationListener | null = null;
if (config.ROLES.includes('api')) {
  if (config.CREATE_DEMO_APP && (await runtime.services.apps.count()) === 0) {
    const { app, apiKey } = await runtime.services.apps.create('demo');
    // Logged once, for the person who just ran `npm start`; only its hash is stored. (Not under `apiKey`, which the
    // logger redacts everywhere else.)
    logger.info(
      { appId: app.id, appName: app.name, demoApiKey: apiKey },
      `created app "demo"; its API key, shown only this once: ${apiKey}`,
    );
  }
  apiKeyCache = new ApiKeyCache((key) => runtime.services.apps.authenticate(key), config.API_KEY_CACHE_MS, Date.now, false);
  apiKeyListener = replacedKeysListener(apiKeyCache, runtime.deps.db, logger);
  await apiKeyListener?.start();
  const app = createHttpApp({
    services: runtime.services,
    db: runtime.deps.db,
    logger,
    metrics: runtime.deps.metrics,
    rateLimits: rateLimitsFrom(config),
    connect: runtime.connect,
    apiKeyCache,
  });
  server = app.listen(config.PORT, config.HOST, () => {
    // publicUrl: where Hosted Connect's links (connectSessions.create's url) point; PUBLIC_URL when behind a proxy.
    logger.info(
      { port: config.PORT, host: config.HOST, roles: config.ROLES, publicUrl: config.PUBLIC_URL },
      `connections service listening on http://${config.HOST}:${config.PORT}`,
    );
  });
}

if (!server && config.METRICS_PORT) {
  // A replica without the API still shows its metrics (and liveness) to Prometheus.
  server = createOpsApp(runtime.deps.metrics, logger).listen(config.METRICS_PORT, config.HOST, () => {
    logger.info({ port: config.METRICS_PORT }, `metrics on http://${config.HOST}:${config.METRICS_PORT}/metrics`);
  });
}

let runner: JobRunner | null = null;
let deliveries: DeliveryWorker | null = null;
if (config.ROLES.includes('worker')) {
  const runnerOptions: Partial<JobRunnerOptions> = {
    concurrency: config.WORKER_CONCURRENCY,
    perProviderConcurrency: config.PROVIDER_CONCURRENCY,
    leaseMs: config.JOB_LEASE_MS,
    pollMs: config.JOB_POLL_MS,
    maxFailures: config.JOB_MAX_FAILURES,
    backoffBaseMs: config.JOB_BACKOFF_BASE_MS,
    backoffMaxMs: config.JOB_BACKOFF_MAX_MS,
    refreshPolicy: { jitterFraction: config.REFRESH_JITTER, failureBackoffMaxMs: config.REFRESH_BACKOFF_MAX_MS },
    callbackUrl: callbackUrlOf(runtime.connect),
  };
  runner = new JobRunner(runtime.deps, syncJobs(runtime.deps, runtime.providers, runnerOptions), runnerOptions);
  await runner.start();
  logger.info({ workerId: runner.workerId, concurrency: config.WORKER_CONCURRENCY }, 'job worker started');
  deliveries = new DeliveryWorker(runtime.deps, runtime.webhooks.sender, runtime.webhooks.settings);
  await deliveries.start();
  logger.info({ workerId: deliveries.workerId, concurrency: config.WEBHOOK_CONCURRENCY }, 'webhook delivery worker started');
}

let scheduler: Scheduler | null = null;
if (config.ROLES.includes('scheduler')) {
  scheduler = new Scheduler(runtime.deps, runtime.services, {
    patterns: Object.fromEntries(SCHEDULE_NAMES.map((n) => [n, config[SCHEDULES[n].env]])) as Record<ScheduleName, string>,
    sweepBatchSize: config.SWEEP_BATCH_SIZE,
    sweepMaxBatches: config.SWEEP_MAX_BATCHES,
    consentWarningDays: config.CONSENT_WARNING_DAYS,
    eventRetentionMs: config.EVENT_RETENTION_DAYS * 86_400_000,
    attemptRetentionMs: config.ATTEMPT_RETENTION_DAYS * 86_400_000,
    jobRetentionMs: config.JOB_RETENTION_DAYS * 86_400_000,
  });
  scheduler.start();
  logger.info({ replicaId: scheduler.replicaId }, 'scheduler started');
}

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  // Stop taking new work first (no more ticks, no more claims), then let what is in flight finish or hand it back.
  await scheduler?.stop();
  if (server) {
    server.close();
    server.closeIdleConnections();
  }
  await Promise.all([runner?.stop(config.SHUTDOWN_GRACE_MS), deliveries?.stop(config.SHUTDOWN_GRACE_MS)]);
  server?.closeAllConnections();
  await apiKeyListener?.stop();
  await runtime.database.close();
  logger.info({ signal }, 'stopped');
  process.exit(0);
}
stopHandler = (signal) => void stop(signal);
if (pendingSignal) stopHandler(pendingSignal);
