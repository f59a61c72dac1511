import {
  connectionPageView,
  connectionView,
  createConnectionInput,
  createdConnectionView,
  deleteAllConnectionsInput,
  deleteConnectionInput,
  deletedConnectionsView,
  deletedConnectionView,
  getConnectionInput,
  listConnectionsInput,
  refreshAllResultView,
  refreshResultView,
  updateConnectionInput,
  updatedConnectionView,
} from '../../connections/connection.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

const tags = ['connections'];

export const connectionsRouter = router({
  create: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/connections',
        tags,
        summary: "Create a connection to an institution for one of the app's users (starts its first job)",
        protect: true,
      },
    })
    .input(createConnectionInput)
    .output(createdConnectionView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.create(ctx.app.id, input))),

  get: appProcedure
    .meta({ openapi: { method: 'GET', path: '/connections/{id}', tags, summary: 'Get a connection', protect: true } })
    .input(getConnectionInput)
    .output(connectionView)
    .query(({ ctx, input }) => ctx.services.connections.get(ctx.app.id, input.id)),

  list: appProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/connections',
        tags,
        summary: "List the app's connections, filtered, a page at a time (pass nextCursor back as cursor)",
        protect: true,
      },
    })
    .input(listConnectionsInput)
    .output(connectionPageView)
    .query(({ ctx, input }) => ctx.services.connections.list(ctx.app.id, input)),

  update: appProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/connections/{id}',
        tags,
        summary: 'Change a connection (name, credentials, datasets, refresh settings); version makes it conditional',
        protect: true,
      },
    })
    .input(updateConnectionInput)
    .output(updatedConnectionView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.update(ctx.app.id, input))),

  refresh: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/connections/{id}/refresh',
        tags,
        summary: 'Refresh a connection now (answers the job; a running one if there is one)',
        protect: true,
      },
    })
    .input(getConnectionInput)
    .output(refreshResultView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.refresh(ctx.app.id, input.id))),

  refreshAll: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/connections/refresh',
        tags,
        summary: 'Refresh every connection of a user (those the user must fix first are skipped, with the reason)',
        protect: true,
      },
    })
    .input(deleteAllConnectionsInput)
    .output(refreshAllResultView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.refreshAll(ctx.app.id, input.userId))),

  delete: appProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/connections/{id}',
        tags,
        summary: 'Delete a connection and its accounts and transactions',
        protect: true,
      },
    })
    .input(deleteConnectionInput)
    .output(deletedConnectionView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.delete(ctx.app.id, input.id))),

  deleteAll: appProcedure
    .meta({
      openapi: { method: 'DELETE', path: '/connections', tags, summary: 'Delete every connection of a user (userId)', protect: true },
    })
    .input(deleteAllConnectionsInput)
    .output(deletedConnectionsView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.connections.deleteAll(ctx.app.id, input.userId))),
});
