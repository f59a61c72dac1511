import { getAppInput, redirectUriInput } from '../../apps/app.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

/** The calling app itself: its name and the redirect URIs Hosted Connect may send its users back to. */
export const appsRouter = router({
  get: appProcedure.input(getAppInput).query(({ ctx }) => ctx.services.apps.find(ctx.app.id)),
  addRedirectUri: appProcedure.input(redirectUriInput).mutation(idempotent(({ ctx, input }) => ctx.services.apps.addRedirectUri(ctx.app.id, input.uri))),
  removeRedirectUri: appProcedure.input(redirectUriInput).mutation(idempotent(({ ctx, input }) => ctx.services.apps.removeRedirectUri(ctx.app.id, input.uri))),
});
