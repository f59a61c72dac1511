import type { RequestHandler } from 'express';
import superjson from 'superjson';
import { appRouter } from './app-router.ts';
import { contextFactory } from './context.ts';
import { createCallerFactory } from './trpc.ts';
import { serializeOutput } from './wire-format.ts';

/**
 * A shorter road for the most common request, one non-batched GET query (what httpLink sends for a query): the
 * procedure runs through a server-side caller, with the same middlewares (authentication, input validation, error
 * mapping), and the answer goes out in one write. Everything else, and every error, goes on to tRPC's own adapter,
 * which answers exactly as before (a failed query runs again there; queries only read). The API benchmark measured
 * tRPC's HTTP adapter (a web Request, AbortController and stream per call, two writes per answer) as the largest
 * cost of a small query after serialization.
 */
export function queryFastPath(makeContext: ReturnType<typeof contextFactory>): RequestHandler {
  const createCaller = createCallerFactory(appRouter);
  // tRPC keeps every procedure in one flat record by full path ('connections.get').
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } } | undefined>;
  return (req, res, next) => {
    const path = req.params.path as string;
    if (procedures[path]?._def.type !== 'query') return next();
    const q = req.url.indexOf('?');
    const params = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));
    if (params.has('batch')) return next();
    let input: unknown;
    try {
      const raw = params.get('input');
      input = raw === null ? undefined : superjson.deserialize(JSON.parse(raw) as Parameters<typeof superjson.deserialize>[0]);
    } catch {
      return next();
    }
    const ctx = makeContext({ req, res, info: undefined as never });
    const caller = createCaller(ctx);
    const call = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], caller) as (i: unknown) => Promise<unknown>;
    call(input).then(
      (data) => {
        const body = JSON.stringify({ result: { data: serializeOutput(data) } });
        res.writeHead(200, { ...ctx.responseHeaders, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
      () => next(),
    );
  };
}
