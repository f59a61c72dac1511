import { listEventsInput } from '../../webhooks/webhook.schemas.ts';
import { appProcedure, router } from '../trpc.ts';

export const eventsRouter = router({
  list: appProcedure.input(listEventsInput).query(({ ctx, input }) => ctx.services.events.list(ctx.app.id, input)),
});
