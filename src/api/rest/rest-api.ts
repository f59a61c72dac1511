import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { createOpenApiExpressMiddleware, type OpenAPIObject } from 'trpc-to-openapi';
import { DATABASE_RETRY_AFTER_SECONDS } from '../../db/database-errors.ts';
import type { Logger } from '../../logger.ts';
import { appRouter } from '../app-router.ts';
import type { contextFactory } from '../context.ts';
import { createOpenApiDocument } from './openapi-document.ts';
import { restError, restErrorFromAdapter } from './rest-errors.ts';

export { REST_BASE_PATH } from './openapi-document.ts';

/** The largest JSON body the REST API reads (as /trpc's). */
const MAX_BODY_BYTES = 1024 * 1024;

/** The reference page's own script and stylesheet, read once: no CDN, no third-party request. */
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  'reference.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('./assets/reference.css', import.meta.url)) },
  'reference.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./assets/reference.js', import.meta.url)) },
};
const REFERENCE_PAGE = readFileSync(new URL('./assets/reference.html', import.meta.url));
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface RestApiOptions {
  /** The same context factory /trpc uses: the same auth, idempotency keys and rate limits. */
  createContext: ReturnType<typeof contextFactory>;
  logger: Logger;
  /** The service's public URL (PUBLIC_URL), for the document's server; read per request (tests learn their port late). */
  publicUrl: () => string | undefined;
}

/**
 * The REST API: every procedure of the router at its `meta.openapi` route (trpc-to-openapi), the OpenAPI document at
 * /openapi.json and a reference page at /docs. Mounted at /api/v1.
 */
export function restApi({ createContext, logger, publicUrl }: RestApiOptions): Router {
  const router = express.Router();
  const routes = routeTable(createOpenApiDocument());

  router.get('/openapi.json', (_req, res) => void res.json(createOpenApiDocument(publicUrl())));
  router.get('/docs', (req, res) => {
    // The page's links are relative to /api/v1/docs: /docs/ would resolve them one folder too deep.
    if (req.path.endsWith('/')) return res.redirect(301, req.originalUrl.replace(/\/+(\?|$)/, '$1'));
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('content-security-policy', PAGE_CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.end(REFERENCE_PAGE);
  });
  router.get('/docs/assets/:file', (req, res) => {
    const asset = ASSETS[req.params.file as string];
    if (!asset) return void res.status(404).json(restError('NOT_FOUND', 'Not found', res.locals.requestId as string));
    res.setHeader('content-type', asset.type);
    res.setHeader('cache-control', 'public, max-age=3600');
    res.setHeader('x-content-type-options', 'nosniff');
    res.end(asset.body);
  });

  // A known path with a method it does not have is 405 with Allow, not the adapter's 404. Every request passes here:
  // one test of its method's routes, as one pattern, answers the usual case; the full table is read only for the rest.
  const byMethod = methodPatterns(routes);
  router.use((req, res, next) => {
    if (byMethod.get(req.method)?.test(req.path)) return next();
    const matching = routes.filter((r) => r.pattern.test(req.path));
    const allowed = [...new Set(matching.flatMap((r) => r.methods))];
    if (!matching.length || allowed.includes(req.method) || req.method === 'HEAD') return next();
    res.setHeader('allow', allowed.join(', '));
    res
      .status(405)
      .json(
        restError(
          'METHOD_NOT_SUPPORTED',
          `${req.method} is not a method of ${req.path} (${allowed.join(', ')})`,
          res.locals.requestId as string,
        ),
      );
  });

  router.use(emptyBodyIsEmptyObject, express.json({ limit: MAX_BODY_BYTES, strict: true }));

  const openApi = createOpenApiExpressMiddleware({
    router: appRouter,
    createContext,
    maxBodySize: MAX_BODY_BYTES,
    responseMeta: ({ ctx, paths, errors }) => ({
      // A create answers 201; everything else keeps the adapter's status (200, or the error's own).
      status: errors.length === 0 && paths?.[0]?.endsWith('.create') ? 201 : undefined,
      headers: {
        ...ctx?.responseHeaders,
        ...(errors.some((e) => e.code === 'SERVICE_UNAVAILABLE') ? { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) } : {}),
      },
    }),
    onError({ error, ctx, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR') (ctx?.logger ?? logger).error({ err: error.cause ?? error, path }, 'internal error');
    },
  });
  router.use((req, res, next) => {
    rebuildErrorBodies(res);
    openApi(req, res).catch(next);
  });

  router.use(bodyErrors(logger));
  return router;
}

/**
 * trpc-to-openapi writes its own error body ("Input validation failed" and zod's raw issues). The API's errors name
 * the field as tRPC's do, so the body it writes is rebuilt from the errorFormatter's shape it carries under `data`.
 */
function rebuildErrorBodies(res: Response): void {
  const end = res.end.bind(res) as (chunk?: unknown) => Response;
  res.end = ((chunk?: unknown) => {
    if (res.statusCode >= 400 && typeof chunk === 'string') {
      try {
        chunk = JSON.stringify(restErrorFromAdapter(JSON.parse(chunk) as object, res.locals.requestId as string));
      } catch {
        // Not JSON after all: sent as it is.
      }
    }
    return end(chunk);
  }) as Response['end'];
}

/** A POST with no body at all (`curl -X POST …/refresh`) is an empty JSON object, not a missing content type. */
function emptyBodyIsEmptyObject(req: Request, _res: Response, next: NextFunction): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody && req.headers['content-type'] === undefined && (req.method === 'POST' || req.method === 'PATCH')) {
    req.headers['content-type'] = 'application/json';
    req.body = {};
  }
  next();
}

/** A body express.json could not read: 400 (not JSON), 413 (too large), 415 (an encoding it does not know). */
function bodyErrors(logger: Logger) {
  return (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(error);
    const requestId = res.locals.requestId as string;
    const status = (error as { status?: unknown }).status;
    const type = (error as { type?: unknown }).type;
    if (type === 'entity.too.large' || status === 413) {
      res.status(413).json(restError('PAYLOAD_TOO_LARGE', `The body is larger than ${MAX_BODY_BYTES} bytes`, requestId));
    } else if (type === 'entity.parse.failed') {
      res
        .status(400)
        .json(restError('BAD_REQUEST', 'not readable as JSON', requestId, [{ path: [], message: 'not readable as JSON (a JSON object)' }]));
    } else if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json(restError(status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST', (error as Error).message, requestId));
    } else {
      logger.error({ err: error, requestId }, 'internal error');
      res.status(500).json(restError('INTERNAL_SERVER_ERROR', `Internal error (request id ${requestId})`, requestId));
    }
  };
}

/** Each documented path as a pattern, with its methods. */
function routeTable(doc: OpenAPIObject): { pattern: RegExp; methods: string[] }[] {
  return Object.entries(doc.paths ?? {}).map(([path, item]) => ({
    pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
    methods: Object.keys(item as object).map((m) => m.toUpperCase()),
  }));
}

/** For each method, one pattern matching any path that has it (the routes' patterns as alternatives). */
function methodPatterns(routes: { pattern: RegExp; methods: string[] }[]): Map<string, RegExp> {
  const sources = new Map<string, string[]>();
  for (const route of routes) for (const m of route.methods) sources.set(m, [...(sources.get(m) ?? []), route.pattern.source]);
  return new Map([...sources].map(([m, list]) => [m, new RegExp(list.map((source) => `(?:${source})`).join('|'))]));
}
