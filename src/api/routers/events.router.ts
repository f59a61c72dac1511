import { eventPageView, listEventsInput } from '../../webhooks/webhook.schemas.ts';
import { appProcedure, router } from '../trpc.ts';

export const eventsRouter = router({
  list: appProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/events',
        tags: ['events'],
        summary: 'The event stream, oldest first (poll with nextCursor)',
        protect: true,
      },
    })
    .input(listEventsInput)
    .output(eventPageView)
    .query(({ ctx, input }) => ctx.services.events.list(ctx.app.id, input)),
});
