import { randomUUID } from 'node:crypto';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';
import { accessOf, type RequestAccess } from './request-access.ts';
import type { RateLimiter } from './rate-limiter.ts';

export interface ApiContext {
  requestId: string;
  services: Services;
  logger: Logger;
  /** The raw Authorization header; the auth middleware resolves it to an app. */
  authorization: string | undefined;
  /** The raw Idempotency-Key header, when a mutation carries one. */
  idempotencyKey: string | undefined;
  /** How many procedure calls this HTTP request holds (more than one in a batch). */
  calls: number;
  /** This process's per-app limits; null when the service runs without them (tools, tests that say so). */
  rateLimiter: RateLimiter | null;
  /** Headers the HTTP response gets (rate limits, idempotent replays), set by middlewares, sent by responseMeta. */
  responseHeaders: Record<string, string>;
  /** This HTTP request's access record (procedures called, app): the access log and request metrics read it. */
  access: RequestAccess;
}

export function contextFactory(services: Services, logger: Logger, rateLimiter: RateLimiter | null) {
  return ({ req, res, info }: CreateExpressContextOptions): ApiContext => {
    const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
    const key = req.headers['idempotency-key'];
    return {
      requestId,
      services,
      logger: logger.child({ requestId }),
      authorization: req.headers.authorization,
      idempotencyKey: Array.isArray(key) ? key.join(', ') : key,
      calls: info?.calls.length ?? 1,
      rateLimiter,
      responseHeaders: {},
      access: accessOf(res),
    };
  };
}
