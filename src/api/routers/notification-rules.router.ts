import {
  createNotificationRuleInput,
  deletedView,
  listNotificationRulesInput,
  notificationRuleIdInput,
  notificationRuleListView,
  notificationRuleView,
  updateNotificationRuleInput,
} from '../../webhooks/webhook.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

const tags = ['notification rules'];

export const notificationRulesRouter = router({
  create: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/notification-rules',
        tags,
        summary: 'Create a notification rule (a trigger, its params, the endpoint to tell)',
        protect: true,
      },
    })
    .input(createNotificationRuleInput)
    .output(notificationRuleView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.notificationRules.create(ctx.app.id, input))),
  list: appProcedure
    .meta({ openapi: { method: 'GET', path: '/notification-rules', tags, summary: "List the app's notification rules", protect: true } })
    .input(listNotificationRulesInput)
    .output(notificationRuleListView)
    .query(({ ctx }) => ctx.services.notificationRules.list(ctx.app.id)),
  get: appProcedure
    .meta({ openapi: { method: 'GET', path: '/notification-rules/{id}', tags, summary: 'Get a notification rule', protect: true } })
    .input(notificationRuleIdInput)
    .output(notificationRuleView)
    .query(({ ctx, input }) => ctx.services.notificationRules.get(ctx.app.id, input.id)),
  update: appProcedure
    .meta({ openapi: { method: 'PATCH', path: '/notification-rules/{id}', tags, summary: 'Change a notification rule', protect: true } })
    .input(updateNotificationRuleInput)
    .output(notificationRuleView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.notificationRules.update(ctx.app.id, input))),
  delete: appProcedure
    .meta({ openapi: { method: 'DELETE', path: '/notification-rules/{id}', tags, summary: 'Delete a notification rule', protect: true } })
    .input(notificationRuleIdInput)
    .output(deletedView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.notificationRules.delete(ctx.app.id, input.id))),
});
