import { z } from 'zod';
import { institutionIdInput, institutionView, listInstitutionsInput } from '../../institutions/institution.schemas.ts';
import { presentInstitution } from '../../institutions/institution.presenter.ts';
import { appProcedure, router } from '../trpc.ts';

const tags = ['institutions'];

export const institutionsRouter = router({
  list: appProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/institutions',
        tags,
        summary: 'List the institutions (banks) a connection can be made to',
        protect: true,
      },
    })
    .input(listInstitutionsInput)
    .output(z.array(institutionView))
    .query(async ({ ctx, input }) => (await ctx.services.institutions.list(input)).map(presentInstitution)),

  get: appProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/institutions/{id}',
        tags,
        summary: 'Get an institution: its credential fields, datasets, sign-in method',
        protect: true,
      },
    })
    .input(institutionIdInput)
    .output(institutionView)
    .query(async ({ ctx, input }) => presentInstitution(await ctx.services.institutions.get(input.id))),
});
