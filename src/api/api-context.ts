import type { Logger } from '../logger.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { RequestAccess } from './request-access.ts';

/**
 * The services a procedure calls. Empty here on purpose: context.ts, which the server compiles and clients never
 * load, merges `Services` into it. The router's emitted type names this file's context, and a client that compiles
 * `AppRouter` must not compile every service, entity and TypeORM with it.
 */
// oxlint-disable-next-line typescript/no-empty-interface, typescript/no-empty-object-type -- filled by declaration merging (context.ts)
export interface ApiServices {}

/** How the auth middleware resolves a key to an app; context.ts merges in the service's (a cached lookup). */
// oxlint-disable-next-line typescript/no-empty-interface, typescript/no-empty-object-type -- filled by declaration merging (context.ts)
export interface ApiKeys {}

/** What every procedure gets (context.ts's contextFactory makes one per request). */
export interface ApiContext {
  requestId: string;
  services: ApiServices;
  logger: Logger;
  /** The raw Authorization header; the auth middleware resolves it to an app through `apiKeys`. */
  authorization: string | undefined;
  apiKeys: ApiKeys;
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
