import { randomUUID } from 'node:crypto';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type Express } from 'express';
import type { DataSource } from 'typeorm';
import { DATABASE_RETRY_AFTER_SECONDS } from '../db/database-errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import { appRouter } from './app-router.ts';
import { DEFAULT_CONNECT_SETTINGS, type ConnectSettings } from '../connect/connect-settings.ts';
import { connectPagesRouter } from './connect-pages/connect-pages.router.ts';
import type { ApiKeyCache } from '../apps/api-key-cache.ts';
import { accessLog } from './access-log.ts';
import { contextFactory } from './context.ts';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimitSettings } from './rate-limiter.ts';
import { REST_BASE_PATH, restApi } from './rest/rest-api.ts';

export interface HttpAppOptions {
  services: Services;
  db: DataSource;
  logger: Logger;
  /** Served at GET /metrics (Prometheus text format) when given. */
  metrics?: Metrics;
  /** Per-app limits of this process (default DEFAULT_RATE_LIMITS); null turns them off. */
  rateLimits?: RateLimitSettings | null;
  /** Hosted Connect's settings (the public URL its forms must come from). */
  connect?: ConnectSettings;
  /** The process's remembered API keys (main.ts wires it to the replaced-key notifications); without it every key is looked up. */
  apiKeyCache?: ApiKeyCache | null;
}

/** The express app: request ids, health, readiness, the tRPC API at /trpc and the REST API at /api/v1. */
export function createHttpApp({
  services,
  db,
  logger,
  metrics,
  rateLimits = DEFAULT_RATE_LIMITS,
  connect = DEFAULT_CONNECT_SETTINGS,
  apiKeyCache = null,
}: HttpAppOptions): Express {
  const app = express();
  const rateLimiter = rateLimits ? new RateLimiter(rateLimits) : null;
  const createContext = contextFactory(services, logger, rateLimiter, apiKeyCache);
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use((req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-request-id', requestId);
    next();
  });
  app.use(accessLog(logger, metrics));

  app.get('/healthz', healthHandler(metrics));

  // Browsers ask for it on every page the service serves (Hosted Connect, the REST reference): no icon, and no 404 to log.
  app.get('/favicon.ico', (_req, res) => void res.status(204).setHeader('cache-control', 'public, max-age=86400').end());

  let migrationsVerified = false;
  app.get('/readyz', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      // Pending migrations only disappear, so one clean check is enough for the life of the process.
      if (!migrationsVerified) migrationsVerified = !(await db.showMigrations());
      if (!migrationsVerified) {
        res.status(503).json({ status: 'unavailable', reason: 'migrations pending' });
        return;
      }
      res.json({ status: 'ready' });
    } catch (error) {
      logger.warn({ err: error }, 'readiness check failed');
      res
        .status(503)
        .setHeader('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
        .json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });

  if (metrics) app.get('/metrics', metricsHandler(metrics, logger));

  // Hosted Connect's pages, for the app's users' browsers (no API key: the session URL's token).
  app.use(connectPagesRouter({ services, settings: connect, logger }));

  // The same procedures as plain JSON (REST, OpenAPI 3.1), with the same context: the same auth, keys and limits.
  app.use(REST_BASE_PATH, restApi({ createContext, logger, publicUrl: () => connect.publicUrl }));

  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      createContext,
      maxBodySize: 1024 * 1024,
      // A list filtered by 1,000 ids does not fit in a URL: clients may send queries as POST (httpLink's methodOverride).
      allowMethodOverride: true,
      // Headers the middlewares asked for (rate limits, an idempotent replay), and Retry-After while the database is away.
      responseMeta: ({ ctx, errors }) => ({
        headers: {
          ...ctx?.responseHeaders,
          ...(errors.some((e) => e.code === 'SERVICE_UNAVAILABLE') ? { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) } : {}),
        },
      }),
      onError({ error, ctx, path }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          (ctx?.logger ?? logger).error({ err: error.cause ?? error, path }, 'internal error');
        }
      },
    }),
  );

  return app;
}

/** GET /metrics: the Prometheus scrape. */
export function metricsHandler(metrics: Metrics, logger: Logger): express.RequestHandler {
  return async (_req, res) => {
    try {
      const body = await metrics.render();
      res.setHeader('content-type', metrics.contentType);
      res.send(body);
    } catch (error) {
      logger.warn({ err: error }, 'metrics scrape failed');
      res.status(503).send('metrics unavailable\n');
    }
  };
}

/** What a worker or scheduler replica serves when it has no API: liveness and metrics (METRICS_PORT). */
export function createOpsApp(metrics: Metrics, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', healthHandler(metrics));
  app.get('/metrics', metricsHandler(metrics, logger));
  return app;
}

/**
 * GET /healthz: liveness. A worker also shows its NOTIFY listeners: `reconnecting` after the database restarted
 * means new work waits for the next poll (a fraction of a second) until it listens again.
 */
function healthHandler(metrics: Metrics | undefined): express.RequestHandler {
  return (_req, res) => {
    const listeners = metrics ? [...metrics.listeners] : [];
    res.json(
      listeners.length
        ? { status: 'ok', listeners: Object.fromEntries(listeners.map(([c, up]) => [c, up ? 'listening' : 'reconnecting'])) }
        : { status: 'ok' },
    );
  };
}
