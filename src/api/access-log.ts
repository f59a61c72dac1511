import type { Request, RequestHandler } from 'express';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { accessOf } from './request-access.ts';

/** The label of requests that reached no procedure and no route (an unknown path): one value, whatever the path was. */
export const UNMATCHED = 'unmatched';
/** The metrics label of a batch of more than one distinct procedure (the log line lists them). */
export const BATCH = 'batch';

/** The status recorded for a request whose client closed the connection before an answer was sent. */
export const CLIENT_CLOSED = 499;

/** Routes polled by machines every few seconds: their lines go out at debug, not info. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One access log line per request (method, procedure or route, status, duration, app, request id) and the request
 * metrics. A route is logged by its pattern (`/connect/:token`), never by its URL: hosted pages carry session
 * tokens in the path, and no query string is ever logged.
 */
export function accessLog(logger: Logger, metrics: Metrics | undefined): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const access = accessOf(res);
    // 'close' comes after 'finish', and also when the client went away first, which is logged too (aborted).
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const aborted = !res.writableFinished;
      // nginx's 499 for a client that closed before any answer; otherwise the status that was sent.
      const status = aborted && !res.headersSent ? CLIENT_CLOSED : res.statusCode;
      const route = routeOf(req);
      const procedure = access.procedures.length ? access.procedures.join(',') : undefined;
      const quiet = route !== undefined && QUIET_ROUTES.has(route);
      const line = {
        method: req.method,
        ...(procedure ? { procedure } : { route: route ?? UNMATCHED }),
        status,
        ...(aborted ? { aborted } : {}),
        durationMs: Math.round(seconds * 10_000) / 10,
        appId: access.appId,
        requestId: res.locals.requestId as string | undefined,
      };
      if (quiet) logger.debug(line, 'request');
      else logger.info(line, 'request');
      metrics?.httpRequest(metricsLabel(access.procedures, route), status, seconds);
    });
    next();
  };
}

/** A bounded label: the procedure (or the one procedure a batch repeats), `batch`, the route pattern, or `unmatched`. */
function metricsLabel(procedures: string[], route: string | undefined): string {
  const distinct = new Set(procedures);
  if (distinct.size === 1) return procedures[0]!;
  if (distinct.size > 1) return BATCH;
  return route ?? UNMATCHED;
}

/** The express route pattern that answered (`/connect/:token`), with its router's mount path; undefined when none did. */
function routeOf(req: Request): string | undefined {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : undefined;
}
