import { accountsRouter, transactionsRouter } from './routers/accounts.router.ts';
import { connectionsRouter } from './routers/connections.router.ts';
import { institutionsRouter } from './routers/institutions.router.ts';
import { jobsRouter } from './routers/jobs.router.ts';
import { router } from './trpc.ts';

export const appRouter = router({
  institutions: institutionsRouter,
  connections: connectionsRouter,
  jobs: jobsRouter,
  accounts: accountsRouter,
  transactions: transactionsRouter,
});

/** The type clients give `createTRPCClient<AppRouter>`. */
export type AppRouter = typeof appRouter;
