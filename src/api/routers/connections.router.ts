import {
  createConnectionInput,
  deleteAllConnectionsInput,
  deleteConnectionInput,
  getConnectionInput,
  listConnectionsInput,
  updateConnectionInput,
} from '../../connections/connection.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

export const connectionsRouter = router({
  create: appProcedure
    .input(createConnectionInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.create(ctx.app.id, input))),

  get: appProcedure
    .input(getConnectionInput)
    .query(({ ctx, input }) => ctx.services.connections.get(ctx.app.id, input.id)),

  list: appProcedure
    .input(listConnectionsInput)
    .query(({ ctx, input }) => ctx.services.connections.list(ctx.app.id, input)),

  update: appProcedure
    .input(updateConnectionInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.update(ctx.app.id, input))),

  refresh: appProcedure
    .input(getConnectionInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.refresh(ctx.app.id, input.id))),

  refreshAll: appProcedure
    .input(deleteAllConnectionsInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.refreshAll(ctx.app.id, input.userId))),

  delete: appProcedure
    .input(deleteConnectionInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.delete(ctx.app.id, input.id))),

  deleteAll: appProcedure
    .input(deleteAllConnectionsInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.deleteAll(ctx.app.id, input.userId))),
});
