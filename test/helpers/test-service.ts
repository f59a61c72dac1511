import { clusterReadings } from '../../src/cluster-readings.ts';
import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TRPCClientError } from '@trpc/client';
import { createClient, type Client, type ClientOptions } from './client.ts';
import { expect } from 'vitest';
import type { AppRouter } from '../../src/api/app-router.ts';
import { createHttpApp } from '../../src/api/http-app.ts';
import type { RateLimitSettings } from '../../src/api/rate-limiter.ts';
import { systemClock, type Clock, type ManualClock } from '../../src/clock.ts';
import type { Deps } from '../../src/deps.ts';
import { createLogger } from '../../src/logger.ts';
import { CredentialCipher } from '../../src/security/credential-cipher.ts';
import { createServices, type Services } from '../../src/services.ts';
import { JobRunner } from '../../src/jobs/job-runner.ts';
import { syncJobs } from '../../src/sync/sync-execution.ts';
import type { JobRunnerOptions } from '../../src/jobs/job-runner.options.ts';
import { ProviderRegistry } from '../../src/providers/provider-registry.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';
import type { LookupFunction } from 'node:net';
import { loadConfig, webhookSettingsFrom } from '../../src/config.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { DEFAULT_QUOTAS, type Quotas } from '../../src/quotas.ts';
import { callbackUrlOf, DEFAULT_CONNECT_SETTINGS, sandboxBankUrlOf, type ConnectSettings } from '../../src/connect/connect-settings.ts';
import { DEFAULT_SANDBOX_OPTIONS } from '../../src/providers/sandbox/sandbox.provider.ts';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../../src/webhooks/delivery.worker.ts';
import { WebhookSender } from '../../src/webhooks/webhook-sender.ts';
import type { WebhookSettings } from '../../src/webhooks/webhook.settings.ts';

export interface TestService {
  database: TestDatabase;
  deps: Deps;
  services: Services;
  /** CREDENTIALS_KEYS for processes that must read what this service encrypted. */
  credentialKeysEnv: string;
  /** Base URL of the running express app. */
  url: string;
  /** Hosted Connect's settings; publicUrl is this service's URL. */
  connect: ConnectSettings;
  /** A job runner on this service's database (sandbox retry-after 1 s, fast backoff unless overridden). */
  runner(options?: Partial<JobRunnerOptions>): JobRunner;
  /** What the service delivers webhooks with (http to loopback allowed; retries after 200, 400, 800 ms). */
  webhookSettings: WebhookSettings;
  /** A delivery worker on this service's database, with those settings unless overridden. */
  deliveryWorker(options?: Partial<DeliveryWorkerOptions>): DeliveryWorker;
  /** A @trpc/client talking to the service over real HTTP with the given API key. */
  client(apiKey?: string, options?: ClientOptions): Client;
  close(): Promise<void>;
}

/**
 * The real service (express + tRPC + domain) on a random loopback port, over this test file's own database.
 */
export async function startTestService(
  options: {
    clock?: Clock;
    sandboxPluginUrl?: string;
    webhooks?: Partial<WebhookSettings>;
    lookup?: LookupFunction;
    quotas?: Partial<Quotas>;
    rateLimits?: RateLimitSettings;
    connect?: Partial<ConnectSettings>;
    logLines?: string[];
    responseBodies?: string[];
  } = {},
): Promise<TestService> {
  const database = await createTestDatabase();
  const key = randomBytes(32);
  const deps: Deps = {
    db: database.db,
    clock: options.clock ?? systemClock,
    cipher: new CredentialCipher([{ id: 'test1', key }]),
    metrics: new Metrics(),
    // A test that checks what is logged collects every line (at debug); the others log nothing.
    logger: options.logLines
      ? createLogger('debug', { write: (line: string) => void options.logLines!.push(line) })
      : createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  };
  // Receivers in tests are plain http on loopback: allowed here, and only here, by configuration.
  const settings: WebhookSettings = {
    ...webhookSettingsFrom(loadConfig({})),
    allowHttp: true,
    allowedAddresses: ['127.0.0.1/32', '::1/128'],
    retryScheduleMs: [200, 400, 800],
    connectTimeoutMs: 1_000,
    timeoutMs: 2_000,
    leaseMs: 5_000,
    pollMs: 50,
    ...options.webhooks,
  };
  const sender = new WebhookSender({
    connectTimeoutMs: settings.connectTimeoutMs,
    timeoutMs: settings.timeoutMs,
    maxResponseBytes: 64 * 1024,
    allowHttp: settings.allowHttp,
    allowedAddresses: settings.allowedAddresses,
    lookup: options.lookup,
  });
  // The public URL is known once the server listens (below); everything reads it from this object.
  const connect: ConnectSettings = { ...DEFAULT_CONNECT_SETTINGS, ...options.connect };
  const services = createServices(deps, { settings, sender }, { ...DEFAULT_QUOTAS, ...options.quotas }, connect);
  await services.institutions.seed(options.sandboxPluginUrl ?? 'http://127.0.0.1:9/unused');
  deps.metrics.observeDatabase(clusterReadings(database.db), deps.clock);
  // Tests make calls as fast as they can: no rate limits unless a test asks for them.
  const app = createHttpApp({
    services,
    db: database.db,
    logger: deps.logger,
    metrics: deps.metrics,
    rateLimits: options.rateLimits ?? null,
    connect,
  });
  // A test that checks what the service sends back gets every response body, as sent on the wire.
  const handler = options.responseBodies ? tapResponses(app, options.responseBodies) : app;
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  connect.publicUrl = url;
  return {
    database,
    deps,
    services,
    credentialKeysEnv: `test1:${key.toString('base64')}`,
    url,
    client: (apiKey?: string, options?: ClientOptions) => createClient(url, apiKey, options),
    connect,
    runner: (runnerOptions?: Partial<JobRunnerOptions>) => {
      const options: Partial<JobRunnerOptions> = {
        concurrency: 8,
        callbackUrl: callbackUrlOf(connect),
        leaseMs: 10_000,
        maxFailures: 3,
        backoffBaseMs: 1_000,
        backoffMaxMs: 4_000,
        ...runnerOptions,
      };
      const providers = new ProviderRegistry({
        http: { connectTimeoutMs: 500, timeoutMs: 2_000 },
        sandbox: { ...DEFAULT_SANDBOX_OPTIONS, bankUrl: sandboxBankUrlOf(connect) },
      });
      return new JobRunner(deps, syncJobs(deps, providers, options), options);
    },
    webhookSettings: settings,
    deliveryWorker: (overrides?: Partial<DeliveryWorkerOptions>) => new DeliveryWorker(deps, sender, { ...settings, ...overrides }),
    async close() {
      sender.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await database.drop();
    },
  };
}

export type ClientError = TRPCClientError<AppRouter>;

/** Awaits a call that must fail, and returns the error as the client sees it. */
export async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCClientError);
    return error as ClientError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Runs due jobs, moving a manual clock past any backoff or Retry-After, until nothing is queued or running. */
export async function runUntilSettled(service: TestService, runner: JobRunner, clock: ManualClock, maxRounds = 20): Promise<void> {
  for (let i = 0; i < maxRounds; i++) {
    await runner.drain();
    const [{ n }] = await service.database.db.query(`SELECT count(*)::int AS n FROM jobs WHERE status IN ('queued', 'running')`);
    if (n === 0) return;
    clock.advance(5_000);
  }
  throw new Error('jobs did not settle');
}

export { createClient, type Client, type ClientOptions };

function tapResponses(app: RequestListener, bodies: string[]): RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    const keep = (chunk: unknown) => {
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string | Uint8Array));
    };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.write = ((chunk: unknown, ...rest: unknown[]) => (keep(chunk), write(chunk, ...rest))) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => (
      keep(chunk),
      bodies.push(Buffer.concat(chunks).toString('utf8')),
      end(chunk, ...rest)
    )) as typeof res.end;
    app(req, res);
  };
}
