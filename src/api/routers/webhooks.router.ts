import {
  createEndpointInput,
  deliveryIdInput,
  endpointIdInput,
  listDeliveriesInput,
  listEndpointsInput,
  recoverEndpointInput,
  updateEndpointInput,
} from '../../webhooks/webhook.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

const endpointsRouter = router({
  create: appProcedure.input(createEndpointInput).mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.create(ctx.app.id, input))),
  list: appProcedure.input(listEndpointsInput).query(({ ctx, input }) => ctx.services.endpoints.list(ctx.app.id, input)),
  get: appProcedure.input(endpointIdInput).query(({ ctx, input }) => ctx.services.endpoints.get(ctx.app.id, input.id)),
  update: appProcedure.input(updateEndpointInput).mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.update(ctx.app.id, input))),
  delete: appProcedure.input(endpointIdInput).mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.delete(ctx.app.id, input.id))),
  rotateSecret: appProcedure.input(endpointIdInput).mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.rotateSecret(ctx.app.id, input.id))),
  test: appProcedure.input(endpointIdInput).mutation(idempotent(({ ctx, input }) => ctx.services.deliveries.test(ctx.app.id, input.id))),
  recover: appProcedure
    .input(recoverEndpointInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.deliveries.recover(ctx.app.id, input.id, input.since))),
});

const deliveriesRouter = router({
  list: appProcedure.input(listDeliveriesInput).query(({ ctx, input }) => ctx.services.deliveries.list(ctx.app.id, input)),
  resend: appProcedure.input(deliveryIdInput).mutation(idempotent(({ ctx, input }) => ctx.services.deliveries.resend(ctx.app.id, input.id))),
});

export const webhooksRouter = router({ endpoints: endpointsRouter, deliveries: deliveriesRouter });
