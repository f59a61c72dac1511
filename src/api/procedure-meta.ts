/**
 * What a procedure declares beside its schemas: its REST route. The fields are the subset of trpc-to-openapi's
 * `OpenApiMeta` the routers use, written out here (openapi-document.ts checks they still fit it) because the
 * router's emitted type carries its meta type: naming trpc-to-openapi's would make every client's compilation load
 * trpc-to-openapi's declarations, which need fastify, koa and next. (No imports, for the same reason. A type, not an
 * interface: tRPC's meta must be assignable to a string-keyed record.)
 */
export type ProcedureMeta = {
  openapi?: {
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
    /** Under /api/v1, with `{name}` for a path parameter. */
    path: `/${string}`;
    summary?: string;
    description?: string;
    tags?: string[];
    /** Needs the API key (every tenant procedure). */
    protect?: boolean;
  };
};
