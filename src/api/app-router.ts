import { accountsRouter, transactionsRouter } from './routers/accounts.router.ts';
import { appsRouter } from './routers/apps.router.ts';
import { connectSessionsRouter } from './routers/connect-sessions.router.ts';
import { connectionsRouter } from './routers/connections.router.ts';
import { institutionsRouter } from './routers/institutions.router.ts';
import { eventsRouter } from './routers/events.router.ts';
import { jobsRouter } from './routers/jobs.router.ts';
import { notificationRulesRouter } from './routers/notification-rules.router.ts';
import { webhooksRouter } from './routers/webhooks.router.ts';
import { router } from './trpc.ts';

export const appRouter = router({
  apps: appsRouter,
  institutions: institutionsRouter,
  connections: connectionsRouter,
  jobs: jobsRouter,
  accounts: accountsRouter,
  transactions: transactionsRouter,
  events: eventsRouter,
  webhooks: webhooksRouter,
  notificationRules: notificationRulesRouter,
  connectSessions: connectSessionsRouter,
});

/** The type clients give `createTRPCClient<AppRouter>`. */
export type AppRouter = typeof appRouter;
