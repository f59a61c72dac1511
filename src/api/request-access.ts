/**
 * What one HTTP request did, filled in while it runs and read when its response has gone: the procedures a tRPC
 * middleware saw (for /trpc and the REST API alike, since both build their context with contextFactory) and the
 * calling app once authenticated. Held in res.locals, so the express-level handler (access-log.ts) can read it.
 * (No imports: the router's context type carries it, and a client type-checking the router should load nothing more.)
 */
export interface RequestAccess {
  /** Procedure paths called, in order ('connections.get'; several for a batch). */
  procedures: string[];
  /** The authenticated app, when there is one. */
  appId: string | undefined;
}

/** This request's record (made on first use). */
export function accessOf(res: { locals: Record<string, unknown> }): RequestAccess {
  return ((res.locals.access as RequestAccess | undefined) ??= { procedures: [], appId: undefined });
}
