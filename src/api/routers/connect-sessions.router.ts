import { connectSessionIdInput, createConnectSessionInput } from '../../connect/connect-session.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

export const connectSessionsRouter = router({
  create: appProcedure.input(createConnectSessionInput).mutation(idempotent(({ ctx, input }) => ctx.services.connectSessions.create(ctx.app.id, input))),
  get: appProcedure.input(connectSessionIdInput).query(({ ctx, input }) => ctx.services.connectSessions.get(ctx.app.id, input.id)),
  cancel: appProcedure.input(connectSessionIdInput).mutation(idempotent(({ ctx, input }) => ctx.services.connectSessions.cancel(ctx.app.id, input.id))),
});
