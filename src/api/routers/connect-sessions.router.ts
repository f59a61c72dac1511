import {
  connectSessionIdInput,
  connectSessionView,
  createConnectSessionInput,
  createdConnectSessionView,
} from '../../connect/connect-session.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

const tags = ['connect sessions'];

export const connectSessionsRouter = router({
  create: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/connect-sessions',
        tags,
        summary: 'Open a Hosted Connect session: a URL to send the user to',
        protect: true,
      },
    })
    .input(createConnectSessionInput)
    .output(createdConnectSessionView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connectSessions.create(ctx.app.id, input))),
  get: appProcedure
    .meta({ openapi: { method: 'GET', path: '/connect-sessions/{id}', tags, summary: 'Get a connect session', protect: true } })
    .input(connectSessionIdInput)
    .output(connectSessionView)
    .query(({ ctx, input }) => ctx.services.connectSessions.get(ctx.app.id, input.id)),
  cancel: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/connect-sessions/{id}/cancel',
        tags,
        summary: 'Cancel a connect session the user has not finished',
        protect: true,
      },
    })
    .input(connectSessionIdInput)
    .output(connectSessionView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connectSessions.cancel(ctx.app.id, input.id))),
});
