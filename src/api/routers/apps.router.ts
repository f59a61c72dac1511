import { appView, getAppInput, redirectUriInput } from '../../apps/app.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

const tags = ['app'];

/** The calling app itself: its name and the redirect URIs Hosted Connect may send its users back to. */
export const appsRouter = router({
  get: appProcedure
    .meta({
      openapi: { method: 'GET', path: '/app', tags, summary: 'The calling app: its name, key prefix and redirect URIs', protect: true },
    })
    .input(getAppInput)
    .output(appView)
    .query(({ ctx }) => ctx.services.apps.find(ctx.app.id)),
  addRedirectUri: appProcedure
    .meta({
      openapi: { method: 'POST', path: '/app/redirect-uris', tags, summary: 'Register a redirect URI for Hosted Connect', protect: true },
    })
    .input(redirectUriInput)
    .output(appView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.apps.addRedirectUri(ctx.app.id, input.uri))),
  removeRedirectUri: appProcedure
    .meta({ openapi: { method: 'DELETE', path: '/app/redirect-uris', tags, summary: 'Remove a redirect URI (uri)', protect: true } })
    .input(redirectUriInput)
    .output(appView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.apps.removeRedirectUri(ctx.app.id, input.uri))),
});
