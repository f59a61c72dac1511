import { z } from 'zod';
import cron from 'node-cron';
import { SCHEDULES, type ScheduleName } from './scheduler/schedules.ts';
import { DEFAULT_RATE_LIMITS, type RateLimitSettings } from './api/rate-limiter.ts';
import { DEFAULT_API_KEY_CACHE_MS } from './apps/api-key-cache.ts';
import type { ConnectSettings } from './connect/connect-settings.ts';
import type { WebhookSettings } from './webhooks/webhook.settings.ts';
import { DEFAULT_RUNNER_OPTIONS } from './jobs/job-runner.options.ts';
import { DEFAULT_QUOTAS, type Quotas } from './quotas.ts';
import { isIpOrCidr } from './security/address-policy.ts';
import { DEFAULT_RETRY_SCHEDULE, parseDuration } from './webhooks/delivery-schedule.ts';

/**
 * The service's whole configuration, read from the environment once at start-up.
 * Every variable is documented in docs/configuration.md (test/unit/configuration-doc.test.ts keeps the two in step).
 */
const boolean = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const credentialKeys = z.string().transform((raw, ctx) => {
  const keys: { id: string; key: Buffer }[] = [];
  for (const part of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const idx = part.indexOf(':');
    const id = idx > 0 ? part.slice(0, idx) : '';
    const key = Buffer.from(part.slice(idx + 1), 'base64');
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected comma-separated "keyId:base64" entries, each key 32 bytes (first one encrypts)',
      });
      return z.NEVER;
    }
    keys.push({ id, key });
  }
  const ids = keys.map((k) => k.id);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate) {
    ctx.addIssue({ code: 'custom', message: `key id "${duplicate}" appears twice; every key needs its own id` });
    return z.NEVER;
  }
  if (keys.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'at least one key is required when set' });
    return z.NEVER;
  }
  return keys;
});

const retrySchedule = z.string().transform((raw, ctx) => {
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const delays = parts.map(parseDuration);
  if (parts.length === 0 || delays.some((d) => d === null)) {
    ctx.addIssue({ code: 'custom', message: 'expected comma-separated waits such as "5s,5m,30m,2h" (units ms, s, m, h, d)' });
    return z.NEVER;
  }
  return delays as number[];
});

const addressList = z.string().transform((raw, ctx) => {
  const entries = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = entries.filter((e) => !isIpOrCidr(e));
  if (bad.length) {
    ctx.addIssue({ code: 'custom', message: `expected comma-separated IP addresses or CIDR ranges; not one: ${bad.join(', ')}` });
    return z.NEVER;
  }
  return entries;
});

const cronPattern = z.string().refine((p) => cron.validate(p), 'must be a cron pattern (node-cron: 5 or 6 fields, seconds first when 6)');
const schedulePatterns = Object.fromEntries(Object.entries(SCHEDULES).map(([, s]) => [s.env, cronPattern.default(s.pattern)])) as Record<
  (typeof SCHEDULES)[ScheduleName]['env'],
  z.ZodDefault<typeof cronPattern>
>;

export const ROLE_NAMES = ['api', 'worker', 'scheduler'] as const;
export type Role = (typeof ROLE_NAMES)[number];

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** The address to listen on; default 127.0.0.1 (this machine only) in development and test, 0.0.0.0 in production. */
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  CREDENTIALS_KEYS: credentialKeys.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Defaults to on, except in production, where a key printed to the logs is a key leaked. */
  CREATE_DEMO_APP: boolean.optional(),
  ROLES: z
    .string()
    .default('api,worker,scheduler')
    .transform((v, ctx) => {
      const roles = v
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const bad = roles.filter((r) => !ROLE_NAMES.includes(r as Role));
      if (bad.length || roles.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a comma-separated list of ${ROLE_NAMES.join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`,
        });
        return z.NEVER;
      }
      return [...new Set(roles)] as Role[];
    }),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(DEFAULT_RUNNER_OPTIONS.concurrency),
  PROVIDER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(DEFAULT_RUNNER_OPTIONS.perProviderConcurrency),
  JOB_LEASE_MS: z.coerce.number().int().min(1_000).max(600_000).default(DEFAULT_RUNNER_OPTIONS.leaseMs),
  JOB_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(DEFAULT_RUNNER_OPTIONS.pollMs),
  JOB_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(DEFAULT_RUNNER_OPTIONS.maxFailures),
  JOB_BACKOFF_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(DEFAULT_RUNNER_OPTIONS.backoffBaseMs),
  JOB_BACKOFF_MAX_MS: z.coerce.number().int().min(1).max(86_400_000).default(DEFAULT_RUNNER_OPTIONS.backoffMaxMs),
  PROVIDER_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(2_000),
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  PLUGIN_PROVIDER_TOKEN: z.string().min(1).optional(),
  /** Seed the sandbox institutions on start; default on in development and test, off in production. */
  SANDBOX_INSTITUTIONS: boolean.optional(),
  /** A JSON file of institutions upserted on every start (docs/institutions.md); unset: none. */
  INSTITUTIONS_FILE: z.string().min(1).optional(),
  SANDBOX_PLUGIN_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4010'),
  /** Plain http:// endpoint URLs; for development only (production endpoints must be https). */
  WEBHOOK_ALLOW_HTTP: boolean.default(false),
  /** Private, loopback or link-local addresses endpoints may reach anyway (IPs or CIDRs); empty refuses them all. */
  WEBHOOK_ALLOWED_ADDRESSES: addressList.default([]),
  WEBHOOK_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(5_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  WEBHOOK_RETRY_SCHEDULE: retrySchedule.default(() => DEFAULT_RETRY_SCHEDULE.split(',').map((d) => parseDuration(d)!)),
  /** An endpoint with no success for this long is disabled (default 5 days). */
  WEBHOOK_DISABLE_AFTER_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(5 * 86_400_000),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(32),
  WEBHOOK_ENDPOINT_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  WEBHOOK_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  /** How long the old secret keeps signing after rotateSecret (default 24 h). */
  WEBHOOK_SECRET_OVERLAP_MS: z.coerce.number().int().min(0).default(86_400_000),
  ...schedulePatterns,
  /** Connections queued per sweep transaction, and the most batches one tick takes. */
  SWEEP_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  SWEEP_MAX_BATCHES: z.coerce.number().int().min(1).max(10_000).default(20),
  CONSENT_WARNING_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  ATTEMPT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Finished jobs older than this are deleted, except each connection's latest. */
  JOB_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** The first automatic refresh after a connect lands up to this fraction of an interval early (spreads a fleet). */
  REFRESH_JITTER: z.coerce.number().min(0).max(0.5).default(DEFAULT_RUNNER_OPTIONS.refreshPolicy.jitterFraction),
  /** The longest wait between automatic refreshes of a connection that keeps failing. */
  REFRESH_BACKOFF_MAX_MS: z.coerce.number().int().min(60_000).default(DEFAULT_RUNNER_OPTIONS.refreshPolicy.failureBackoffMaxMs),
  /** Where a replica without the api role serves /metrics and /healthz; unset: nowhere. */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /**
   * The service's address as users' browsers reach it (Hosted Connect's session URLs, the banks' callback). Unset:
   * http://localhost:PORT, right for a laptop; behind a proxy or a load balancer, set it.
   */
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://connect.example.com' })
    .refine((u) => !new URL(u).search && !new URL(u).hash, 'must not have a query or a fragment')
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
  /** How long a connect session's URL can be used (minutes). */
  CONNECT_SESSION_TTL_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(30),
  /** Wrong passwords (or codes) a user may give in one connect session before it fails. */
  CONNECT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  /** Per-app token buckets of each API process (src/api/rate-limiter.ts); RATE_LIMITS=false turns them off. */
  RATE_LIMITS: boolean.default(true),
  /** How long an API process trusts a key it looked up (src/apps/api-key-cache.ts); 0 looks every key up. */
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(DEFAULT_API_KEY_CACHE_MS),
  RATE_LIMIT_PER_SECOND: z.coerce.number().positive().max(1_000_000).default(DEFAULT_RATE_LIMITS.requestsPerSecond),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_RATE_LIMITS.requestBurst),
  RATE_LIMIT_MUTATIONS_PER_SECOND: z.coerce.number().positive().max(1_000_000).default(DEFAULT_RATE_LIMITS.mutationsPerSecond),
  RATE_LIMIT_MUTATIONS_BURST: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_RATE_LIMITS.mutationBurst),
  /** Quotas (src/quotas.ts): past one, a create answers FORBIDDEN with details { quota, limit } and writes nothing. */
  MAX_ENDPOINTS_PER_APP: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_QUOTAS.endpointsPerApp),
  MAX_NOTIFICATION_RULES_PER_APP: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_QUOTAS.notificationRulesPerApp),
  MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_QUOTAS.connectionsPerUser),
});

export type Config = Omit<z.output<typeof schema>, 'CREATE_DEMO_APP' | 'PUBLIC_URL' | 'HOST' | 'SANDBOX_INSTITUTIONS'> & {
  CREATE_DEMO_APP: boolean;
  PUBLIC_URL: string;
  HOST: string;
  SANDBOX_INSTITUTIONS: boolean;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad variable. Empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`));
  }
  if (result.data.WEBHOOK_LEASE_MS <= result.data.WEBHOOK_TIMEOUT_MS) {
    throw new ConfigError([
      `WEBHOOK_LEASE_MS: must exceed WEBHOOK_TIMEOUT_MS (${result.data.WEBHOOK_TIMEOUT_MS}), or a slow delivery would be taken over while still in flight`,
    ]);
  }
  if (result.data.NODE_ENV === 'production' && !result.data.CREDENTIALS_KEYS) {
    throw new ConfigError(['CREDENTIALS_KEYS: required when NODE_ENV=production (dev mode generates a key into DATA_DIR)']);
  }
  return {
    ...result.data,
    CREATE_DEMO_APP: result.data.CREATE_DEMO_APP ?? result.data.NODE_ENV !== 'production',
    // A laptop's service is not reachable from the café's network unless asked; a container's must be.
    HOST: result.data.HOST ?? (result.data.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1'),
    // Production's institutions are real ones (INSTITUTIONS_FILE, the CLI); a sandbox bank there would be offered to users.
    SANDBOX_INSTITUTIONS: result.data.SANDBOX_INSTITUTIONS ?? result.data.NODE_ENV !== 'production',
    PUBLIC_URL: result.data.PUBLIC_URL ?? `http://localhost:${result.data.PORT}`,
  };
}

export function quotasFrom(config: Config): Quotas {
  return {
    endpointsPerApp: config.MAX_ENDPOINTS_PER_APP,
    notificationRulesPerApp: config.MAX_NOTIFICATION_RULES_PER_APP,
    connectionsPerUser: config.MAX_CONNECTIONS_PER_USER,
  };
}

/** The per-app rate limits of an API process, or null when RATE_LIMITS is off. */
export function rateLimitsFrom(config: Config): RateLimitSettings | null {
  if (!config.RATE_LIMITS) return null;
  return {
    requestsPerSecond: config.RATE_LIMIT_PER_SECOND,
    requestBurst: config.RATE_LIMIT_BURST,
    mutationsPerSecond: config.RATE_LIMIT_MUTATIONS_PER_SECOND,
    mutationBurst: config.RATE_LIMIT_MUTATIONS_BURST,
  };
}

/** The webhook side's settings, from the WEBHOOK_* variables. */
export function webhookSettingsFrom(config: Config): WebhookSettings {
  return {
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
    allowedAddresses: config.WEBHOOK_ALLOWED_ADDRESSES,
    connectTimeoutMs: config.WEBHOOK_CONNECT_TIMEOUT_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER_MS,
    leaseMs: config.WEBHOOK_LEASE_MS,
    secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP_MS,
    concurrency: config.WEBHOOK_CONCURRENCY,
    perEndpointConcurrency: config.WEBHOOK_ENDPOINT_CONCURRENCY,
    pollMs: config.WEBHOOK_POLL_MS,
  };
}

/** What Hosted Connect is configured by (PUBLIC_URL and the CONNECT_* variables). */
export function connectSettingsFrom(config: Config): ConnectSettings {
  return {
    publicUrl: config.PUBLIC_URL,
    sessionTtlMs: config.CONNECT_SESSION_TTL_MINUTES * 60_000,
    maxAttempts: config.CONNECT_MAX_ATTEMPTS,
  };
}

/** Every variable loadConfig reads, by name (docs/configuration.md lists exactly these; a test holds the two together). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);
