import { z } from 'zod';
import { DATASETS, INSTITUTION_METHODS, INSTITUTION_STATUSES, SIGN_IN_METHODS } from '../../../entities/index.ts';
import { institutionIdSchema } from '../../connections/connection.schemas.ts';
import { inputObject, noControlChars } from '../../validation.ts';
import { presentInstitution } from '../../institutions/institution.presenter.ts';
import { appProcedure, router } from '../trpc.ts';

const tags = ['institutions'];

// The institutions folder is being reworked (institutions as data) as this is written, so its schemas stay here
// for now; they belong in src/institutions/institution.schemas.ts beside the presenter.
const institutionView = z
  .object({
    id: z.string(),
    name: z.string(),
    country: z.string(),
    method: z.enum(INSTITUTION_METHODS),
    serviceProvider: z.string(),
    bankCode: z.string().nullable(),
    datasets: z.array(z.enum(DATASETS)),
    credentialFields: z.array(z.object({ name: z.string(), label: z.string(), secret: z.boolean(), required: z.boolean() })),
    signIn: z.enum(SIGN_IN_METHODS),
    minRefreshIntervalMinutes: z.number().int(),
    status: z.enum(INSTITUTION_STATUSES),
  })
  .meta({ id: 'Institution' });

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
    .input(
      inputObject({
        country: z
          .string()
          .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')
          .optional(),
        search: z.string().trim().min(1).max(100).regex(noControlChars, 'must not contain control characters').optional(),
      }).default({}),
    )
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
    .input(inputObject({ id: institutionIdSchema }))
    .output(institutionView)
    .query(async ({ ctx, input }) => presentInstitution(await ctx.services.institutions.get(input.id))),
});
