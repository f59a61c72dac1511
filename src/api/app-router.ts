import { connectionsRouter } from './routers/connections.router.ts';
import { institutionsRouter } from './routers/institutions.router.ts';
import { router } from './trpc.ts';

export const appRouter = router({
  institutions: institutionsRouter,
  connections: connectionsRouter,
});

/** The type clients give `createTRPCClient<AppRouter>`. */
export type AppRouter = typeof appRouter;
