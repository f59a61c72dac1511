import { z } from 'zod';
import { institutionIdSchema } from '../../connections/connection.schemas.ts';
import { inputObject, noControlChars } from '../../validation.ts';
import { presentInstitution } from '../../institutions/institution.presenter.ts';
import { appProcedure, router } from '../trpc.ts';

export const institutionsRouter = router({
  list: appProcedure
    .input(
      inputObject({
        country: z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code').optional(),
        search: z.string().trim().min(1).max(100).regex(noControlChars, 'must not contain control characters').optional(),
      }).default({}),
    )
    .query(async ({ ctx, input }) => (await ctx.services.institutions.list(input)).map(presentInstitution)),

  get: appProcedure
    .input(inputObject({ id: institutionIdSchema }))
    .query(async ({ ctx, input }) => presentInstitution(await ctx.services.institutions.get(input.id))),
});
