import {
  createEndpointInput,
  deletedView,
  deliveryIdInput,
  deliveryPageView,
  deliveryView,
  endpointIdInput,
  endpointPageView,
  endpointView,
  endpointWithSecretView,
  listDeliveriesInput,
  listEndpointsInput,
  recoverEndpointInput,
  recoverResultView,
  testDeliveryView,
  updateEndpointInput,
} from '../../webhooks/webhook.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

const tags = ['webhooks'];

const endpointsRouter = router({
  create: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/endpoints',
        tags,
        summary: 'Create a webhook endpoint (answers its signing secret, once)',
        protect: true,
      },
    })
    .input(createEndpointInput)
    .output(endpointWithSecretView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.create(ctx.app.id, input))),
  list: appProcedure
    .meta({ openapi: { method: 'GET', path: '/webhooks/endpoints', tags, summary: "List the app's webhook endpoints", protect: true } })
    .input(listEndpointsInput)
    .output(endpointPageView)
    .query(({ ctx, input }) => ctx.services.endpoints.list(ctx.app.id, input)),
  get: appProcedure
    .meta({ openapi: { method: 'GET', path: '/webhooks/endpoints/{id}', tags, summary: 'Get a webhook endpoint', protect: true } })
    .input(endpointIdInput)
    .output(endpointView)
    .query(({ ctx, input }) => ctx.services.endpoints.get(ctx.app.id, input.id)),
  update: appProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/webhooks/endpoints/{id}',
        tags,
        summary: 'Change a webhook endpoint (url, filters, enabled)',
        protect: true,
      },
    })
    .input(updateEndpointInput)
    .output(endpointView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.update(ctx.app.id, input))),
  delete: appProcedure
    .meta({ openapi: { method: 'DELETE', path: '/webhooks/endpoints/{id}', tags, summary: 'Delete a webhook endpoint', protect: true } })
    .input(endpointIdInput)
    .output(deletedView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.delete(ctx.app.id, input.id))),
  rotateSecret: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/endpoints/{id}/rotate-secret',
        tags,
        summary: 'Issue a new signing secret (the old one signs too for a while)',
        protect: true,
      },
    })
    .input(endpointIdInput)
    .output(endpointWithSecretView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.endpoints.rotateSecret(ctx.app.id, input.id))),
  test: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/endpoints/{id}/test',
        tags,
        summary: 'Send a webhook.test event to the endpoint now',
        protect: true,
      },
    })
    .input(endpointIdInput)
    .output(testDeliveryView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.deliveries.test(ctx.app.id, input.id))),
  recover: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/endpoints/{id}/recover',
        tags,
        summary: 'Send again every event since a time that the endpoint did not receive',
        protect: true,
      },
    })
    .input(recoverEndpointInput)
    .output(recoverResultView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.deliveries.recover(ctx.app.id, input.id, input.since))),
});

const deliveriesRouter = router({
  list: appProcedure
    .meta({
      openapi: { method: 'GET', path: '/webhooks/deliveries', tags, summary: 'List webhook deliveries, newest first', protect: true },
    })
    .input(listDeliveriesInput)
    .output(deliveryPageView)
    .query(({ ctx, input }) => ctx.services.deliveries.list(ctx.app.id, input)),
  resend: appProcedure
    .meta({ openapi: { method: 'POST', path: '/webhooks/deliveries/{id}/resend', tags, summary: 'Send a delivery again', protect: true } })
    .input(deliveryIdInput)
    .output(deliveryView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.deliveries.resend(ctx.app.id, input.id))),
});

export const webhooksRouter = router({ endpoints: endpointsRouter, deliveries: deliveriesRouter });
