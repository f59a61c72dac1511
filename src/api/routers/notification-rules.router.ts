import {
  createNotificationRuleInput,
  listNotificationRulesInput,
  notificationRuleIdInput,
  updateNotificationRuleInput,
} from '../../webhooks/webhook.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

export const notificationRulesRouter = router({
  create: appProcedure
    .input(createNotificationRuleInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.notificationRules.create(ctx.app.id, input))),
  list: appProcedure.input(listNotificationRulesInput).query(({ ctx }) => ctx.services.notificationRules.list(ctx.app.id)),
  get: appProcedure.input(notificationRuleIdInput).query(({ ctx, input }) => ctx.services.notificationRules.get(ctx.app.id, input.id)),
  update: appProcedure
    .input(updateNotificationRuleInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.notificationRules.update(ctx.app.id, input))),
  delete: appProcedure
    .input(notificationRuleIdInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.notificationRules.delete(ctx.app.id, input.id))),
});
