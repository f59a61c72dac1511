import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { appRouter } from '../app-router.ts';

/** Where the REST API is mounted; the document's paths are relative to it. */
export const REST_BASE_PATH = '/api/v1';

/**
 * The OpenAPI 3.1 document of the REST API, generated from the router (every procedure's meta, input and output).
 * `publicUrl`: the service's public URL, when known; otherwise the server is the relative `/api/v1`.
 */
export function createOpenApiDocument(publicUrl?: string): OpenAPIObject {
  return generateOpenApiDocument(appRouter, {
    title: 'Connections service',
    description: 'Open-banking connections: institutions, connections and their jobs, accounts, transactions, events, webhooks.',
    version: '1',
    openApiVersion: '3.1.0',
    baseUrl: publicUrl ? `${publicUrl.replace(/\/+$/, '')}${REST_BASE_PATH}` : REST_BASE_PATH,
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The app API key: Authorization: Bearer csk_…' } },
  });
}
