import { randomUUID } from 'node:crypto';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import { ApiKeyCache } from '../apps/api-key-cache.ts';
import type { AppSummary } from '../apps/app.service.ts';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';
import type { ApiContext } from './api-context.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { accessOf } from './request-access.ts';

export type { ApiContext } from './api-context.ts';

// The services behind ctx.services, for the server's own compilation (see ApiServices).
declare module './api-context.ts' {
  // oxlint-disable-next-line typescript/no-empty-interface, typescript/no-empty-object-type -- declaration merging
  interface ApiServices extends Services {}
  interface ApiKeys {
    /** The app a presented key belongs to, or null. */
    authenticate(presentedKey: string): Promise<AppSummary | null>;
  }
}

/** `apiKeys`: the process's remembered keys (src/apps/api-key-cache.ts); without one, every key is looked up. */
export function contextFactory(services: Services, logger: Logger, rateLimiter: RateLimiter | null, apiKeyCache: ApiKeyCache | null) {
  const apiKeys = apiKeyCache ?? new ApiKeyCache((key) => services.apps.authenticate(key), 0);
  return ({ req, res, info }: CreateExpressContextOptions): ApiContext => {
    const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
    const key = req.headers['idempotency-key'];
    return {
      requestId,
      services,
      logger: logger.child({ requestId }),
      authorization: req.headers.authorization,
      apiKeys,
      idempotencyKey: Array.isArray(key) ? key.join(', ') : key,
      calls: info?.calls.length ?? 1,
      rateLimiter,
      responseHeaders: {},
      access: accessOf(res),
    };
  };
}
