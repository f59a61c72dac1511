import { initTRPC, TRPCError } from '@trpc/server';
import type { ProcedureMeta } from './procedure-meta.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/database-errors.ts';
import { AppError } from '../errors.ts';
import type { AppSummary } from '../apps/app.service.ts';
import { IDEMPOTENCY_KEY_PATTERN } from '../idempotency/idempotency.service.ts';
import type { ApiContext } from './api-context.ts';
import { appErrorToTRPC, boundIssues, describeIssues, schemaIssues } from './error-map.ts';
import { transformer } from './transformer.ts';

const t = initTRPC
  .context<ApiContext>()
  .meta<ProcedureMeta>()
  .create({
    // superjson for tRPC clients (src/api/transformer.ts).
    transformer,
    errorFormatter({ shape, error, ctx }) {
      const appIssues = error.cause instanceof AppError ? error.cause.details.issues : undefined;
      const issues = appIssues
        ? boundIssues(appIssues)
        : error.code === 'BAD_REQUEST' && !(error.cause instanceof AppError)
          ? // A body tRPC could not even read (not JSON, a superjson envelope it refuses) is an issue of the input as a whole.
            (schemaIssues(error.cause) ?? boundIssues([{ path: [], message: `not readable as superjson input (${shape.message})` }]))
          : null;
      const { issues: _issues, ...details } = error.cause instanceof AppError ? error.cause.details : {};
      const internal = error.code === 'INTERNAL_SERVER_ERROR';
      return {
        ...shape,
        // A real fault shows only its request id; the cause is in the log under the same id.
        message: internal ? `Internal error (request id ${ctx?.requestId ?? 'unknown'})` : issues ? describeIssues(issues) : shape.message,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          requestId: ctx?.requestId,
          issues: issues?.issues ?? null,
          /** How many issues there were; `issues` lists the first 20. */
          issueCount: issues?.total ?? null,
          details: Object.keys(details).length ? details : null,
        },
      };
    },
  });

/**
 * Every procedure call is recorded for the request's access log line and metrics (src/api/access-log.ts). Domain
 * errors leave as their tRPC code; a database that cannot be reached is SERVICE_UNAVAILABLE (503, with
 * Retry-After), so a client can tell "try again" from a fault; everything else stays an internal error. (One
 * middleware, not two: each link of tRPC's middleware chain costs a context merge and a promise per call.)
 */
const recordAccessAndMapErrors = t.middleware(async ({ ctx, path, next }) => {
  ctx.access.procedures.push(path);
  const result = await next();
  if (result.ok) return result;
  if (result.error.cause instanceof AppError) throw appErrorToTRPC(result.error.cause);
  if (isDatabaseUnavailable(result.error.cause)) {
    throw new TRPCError({
      code: 'SERVICE_UNAVAILABLE',
      message: `The database is unavailable; retry in ${DATABASE_RETRY_AFTER_SECONDS} s`,
      cause: result.error.cause,
    });
  }
  return result;
});

/**
 * The calling app, from its API key, within its token buckets of this process; past them, TOO_MANY_REQUESTS with
 * Retry-After and RateLimit fields. (Authentication and the rate limit are one middleware for the same reason.)
 */
const authenticateAndLimit = t.middleware(async ({ ctx, type, next }) => {
  const match = /^Bearer\s+(\S+)$/i.exec(ctx.authorization ?? '');
  const app = match ? await ctx.apiKeys.authenticate(match[1]!) : null;
  if (!app) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Missing or invalid API key (Authorization: Bearer csk_…)' });
  }
  ctx.access.appId = app.id;
  if (ctx.rateLimiter) {
    const decision = ctx.rateLimiter.take(app.id, type === 'mutation');
    Object.assign(ctx.responseHeaders, decision.headers);
    if (!decision.allowed) {
      ctx.responseHeaders['retry-after'] = String(decision.retryAfterSeconds);
      throw new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: `Rate limit of this replica reached for the app${type === 'mutation' ? ' (mutations)' : ''}; retry in ${decision.retryAfterSeconds} s`,
      });
    }
  }
  return next({ ctx: { ...ctx, app, logger: ctx.logger.child({ appId: app.id }) } });
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(recordAccessAndMapErrors);
/** Every tenant procedure: `ctx.app` is the calling app, within its rate limits. */
export const appProcedure = publicProcedure.use(authenticateAndLimit);

/**
 * Wraps a mutation's resolver so that it honours the Idempotency-Key header (src/idempotency): a repeated key with
 * the same input answers the first answer again (`idempotent-replayed: true`) without doing the work twice.
 * Every mutation's resolver goes through it.
 */
export function idempotent<Opts extends { ctx: ApiContext & { app: AppSummary }; input: unknown; path: string }, Out>(
  resolve: (opts: Opts) => Promise<Out>,
): (opts: Opts) => Promise<Out> {
  return async (opts) => {
    const { ctx } = opts;
    const key = ctx.idempotencyKey;
    if (key === undefined) return resolve(opts);
    if (!IDEMPOTENCY_KEY_PATTERN.test(key))
      throw AppError.validation(['Idempotency-Key'], 'must be 1 to 255 printable ASCII characters (header)');
    if (ctx.calls > 1)
      throw AppError.validation(['Idempotency-Key'], 'belongs to one call: send a mutation that carries one on its own, not in a batch');
    const outcome = await ctx.services.idempotency.run(ctx.app.id, key, opts.path, opts.input, () => resolve(opts));
    if (outcome.replayed) ctx.responseHeaders['idempotent-replayed'] = 'true';
    return outcome.value;
  };
}
