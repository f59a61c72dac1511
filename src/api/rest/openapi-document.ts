import { generateOpenApiDocument, type OpenApiMeta, type OpenAPIObject } from 'trpc-to-openapi';
import type { oas31 } from 'zod-openapi';
import { appRouter } from '../app-router.ts';
import type { ProcedureMeta } from '../procedure-meta.ts';

// The routers' meta is our own copy of the fields they use (procedure-meta.ts): it must still be trpc-to-openapi's.
const metaFits: ProcedureMeta extends OpenApiMeta ? true : false = true;
void metaFits;

/** Where the REST API is mounted; the document's paths are relative to it. */
export const REST_BASE_PATH = '/api/v1';

/** What every REST error body holds (src/api/rest/rest-errors.ts writes it). */
const ERROR_SCHEMA: oas31.SchemaObject = {
  type: 'object',
  required: ['code', 'message', 'requestId'],
  properties: {
    code: { type: 'string', description: 'The tRPC error code: BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, …' },
    message: { type: 'string', description: 'What went wrong; for bad input, each field path and its problem.' },
    issues: {
      type: 'array',
      description: 'Bad input: one entry per problem (the first 20), each naming the field by its path.',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'array', items: { type: ['string', 'integer'] } }, message: { type: 'string' } },
      },
    },
    issueCount: { type: 'integer', description: 'How many issues there were in all.' },
    details: { type: 'object', description: 'More about the error (a quota: its name and limit).' },
    requestId: { type: ['string', 'null'], description: 'The request id (also the x-request-id header) the log knows the request by.' },
  },
};

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } } };
const errorResponse = (description: string, headers?: object) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
});

/**
 * The OpenAPI 3.1 document of the REST API, generated from the router (every procedure's meta, input and output).
 * `publicUrl`: the service's public URL, when known; otherwise the server is the relative `/api/v1`. What the
 * generator cannot know is added here: 201 for a create, the error body, 409, 429 and 503; tRPC-only object inputs
 * are left out of the query parameters.
 */
export function createOpenApiDocument(publicUrl?: string): OpenAPIObject {
  // The router never changes in a process, so one document per server URL (generating one takes a few 100 ms).
  const cached = documents.get(publicUrl ?? '');
  if (cached) return cached;
  const doc = generateOpenApiDocument(appRouter, {
    title: 'Connections service',
    description:
      'Open-banking connections: institutions, connections and their jobs, accounts, transactions, events, webhooks. ' +
      'The same procedures as the tRPC API at /trpc, as plain JSON: dates are ISO 8601 strings. ' +
      'Mutations take an Idempotency-Key header: the same key with the same body answers the first answer again.',
    version: '1',
    openApiVersion: '3.1.0',
    baseUrl: publicUrl ? `${publicUrl.replace(/\/+$/, '')}${REST_BASE_PATH}` : REST_BASE_PATH,
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The app API key: Authorization: Bearer csk_…' } },
  });
  const schemas = (doc.components ??= {}).schemas ?? {};
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  schemas.ErrorResponse = ERROR_SCHEMA;
  doc.components.schemas = schemas;
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(
      item as Record<string, { operationId?: string; parameters?: oas31.ParameterObject[]; responses: Record<string, unknown> }>,
    )) {
      // An object cannot be a query parameter: such an input (connections.list's `filter`) is tRPC's form, and
      // REST has the same fields flat beside it.
      if (op.parameters)
        op.parameters = op.parameters.filter((p) => !(p.in === 'query' && (p.schema as oas31.SchemaObject | undefined)?.type === 'object'));
      const { 200: ok, ...errors } = op.responses;
      const created = method === 'post' && op.operationId?.endsWith('-create');
      const hasId = path.includes('{');
      op.responses = {
        [created ? 201 : 200]: ok,
        400: errorResponse('Bad input: the body, a parameter or the JSON itself; `issues` names each field'),
        401: errorResponse('Missing or invalid API key'),
        ...(errors[403] ? { 403: errorResponse('A quota of the app is reached (`details` says which)') } : {}),
        ...(hasId || method !== 'post' ? { 404: errorResponse('Not found (or another app’s)') } : {}),
        ...(method !== 'get'
          ? { 409: errorResponse('Conflict: the resource is busy, a version is stale, or an Idempotency-Key was used with another body') }
          : {}),
        ...(method !== 'get' ? { 412: errorResponse('The resource is not in a state that allows this') } : {}),
        429: errorResponse('Rate limit of the app reached', RETRY_AFTER),
        500: errorResponse('Internal error (the request id finds it in the log)'),
        503: errorResponse('The database is unavailable; retry', RETRY_AFTER),
      };
    }
  }
  documents.set(publicUrl ?? '', doc);
  return doc;
}

const documents = new Map<string, OpenAPIObject>();
