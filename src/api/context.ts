import { randomUUID } from 'node:crypto';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';

export interface ApiContext {
  requestId: string;
  services: Services;
  logger: Logger;
  /** The raw Authorization header; the auth middleware resolves it to an app. */
  authorization: string | undefined;
}

export function contextFactory(services: Services, logger: Logger) {
  return ({ req, res }: CreateExpressContextOptions): ApiContext => {
    const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
    return { requestId, services, logger: logger.child({ requestId }), authorization: req.headers.authorization };
  };
}
