import { z } from 'zod';
import { CONNECTION_STATES, CONNECTION_STATUSES, DATASETS, INSTITUTION_METHODS } from '../../entities/index.ts';
import { institutionIdSchema } from '../institutions/institution-id.schema.ts';
import { jobView } from '../jobs/job.schemas.ts';
import { dateTime, exact, inputObject, intParam, noControlChars } from '../validation.ts';
import { connectionErrorView } from '../connection-error.schemas.ts';

// Input schemas for the connections API. They live in the domain (not the transport) because they are the rules
// of what a connection may hold; the router only attaches them.

export { noControlChars };

export const connectionIdSchema = z.uuid({ message: 'must be a connection id (uuid)' });
export const userIdSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(255)
  .regex(noControlChars, 'must not contain control characters');
// Institutions own their id's rule; re-exported for the inputs that take one beside connection fields.
export { institutionIdSchema };

const credentialsSchema = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'credential names are letters, digits and _ (at most 64)'),
    z.string().max(1024, 'a credential value is at most 1024 characters'),
  )
  .refine((c) => Object.keys(c).length <= 20, 'at most 20 credential fields');

const scopesSchema = z
  .array(z.string().trim().min(1).max(200).regex(noControlChars, 'must not contain control characters'))
  .max(100)
  .nullable();

export const datasetsSchema = z
  .array(z.enum(DATASETS))
  .min(1, 'give at least one dataset, or null for all')
  .refine((d) => new Set(d).size === d.length, 'datasets must not repeat')
  .nullable();

const nameSchema = z.string().trim().min(1).max(255).regex(noControlChars, 'must not contain control characters').nullable();

/** 15 minutes to 30 days; the institution may require a longer minimum. */
const refreshIntervalSchema = exact(z.number().int().min(15).max(43_200));

/** How long the consent the user gives should last: a day to a year (open banking's longest). */
export const consentDaysSchema = exact(z.number().int().min(1).max(365));

/** What every paged list's `cursor` is. */
export const CURSOR = 'The nextCursor of the previous page (leave it out for the first).';

/** One value or a list of values; the service always sees a list. */
const oneOrMany = <T extends z.ZodType>(item: T) =>
  z.union([item, z.array(item).min(1).max(50)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

export const createConnectionInput = inputObject({
  userId: userIdSchema,
  institutionId: institutionIdSchema,
  credentials: credentialsSchema.optional(),
  scopes: scopesSchema.optional(),
  datasets: datasetsSchema.optional(),
  name: nameSchema.optional(),
  autoRefresh: exact(z.boolean()).optional(),
  refreshIntervalMinutes: refreshIntervalSchema.optional(),
  consentDays: consentDaysSchema.optional(),
});
export type CreateConnectionInput = z.output<typeof createConnectionInput>;

export const getConnectionInput = inputObject({ id: connectionIdSchema });

const SEVERAL = 'One value, or several (a list; over REST, repeat the parameter).';
const connectionFilter = {
  ids: z
    .array(connectionIdSchema)
    .min(1)
    .max(1000, 'at most 1000 ids')
    .meta({ description: 'Only these connections (at most 1000).' })
    .optional(),
  status: oneOrMany(z.enum(CONNECTION_STATUSES)).meta({ description: SEVERAL }).optional(),
  state: oneOrMany(z.enum(CONNECTION_STATES)).meta({ description: SEVERAL }).optional(),
  institutionId: oneOrMany(institutionIdSchema).meta({ description: SEVERAL }).optional(),
  method: oneOrMany(z.enum(INSTITUTION_METHODS)).meta({ description: SEVERAL }).optional(),
};
const FILTER_KEYS = Object.keys(connectionFilter) as (keyof typeof connectionFilter)[];

/**
 * tRPC clients filter with `filter: { status, … }`; a REST query string is flat (`?status=ACTIVE&status=EXPIRED`), so
 * the same filters are also taken at the top level. One form per request: the service sees `filter` either way.
 */
export const listConnectionsInput = inputObject({
  userId: userIdSchema.optional(),
  filter: inputObject(connectionFilter)
    .optional()
    .meta({ description: 'tRPC clients: the filters as one object. Over REST, give them as the query parameters beside it.' }),
  ...connectionFilter,
  cursor: z.string().min(1).max(200).meta({ description: CURSOR }).optional(),
  limit: intParam(1, 500).default(50),
})
  .superRefine((input, ctx) => {
    const flat = FILTER_KEYS.find((k) => input[k] !== undefined);
    if (flat && input.filter !== undefined)
      ctx.addIssue({ code: 'custom', path: [flat], message: 'give the filters in filter or beside it, not both' });
  })
  .transform(({ filter, ...input }) => {
    const flat: typeof filter = {};
    for (const k of FILTER_KEYS) {
      if (input[k] !== undefined) Object.assign(flat, { [k]: input[k] });
      delete input[k];
    }
    const chosen = Object.keys(flat).length ? flat : filter;
    return { ...input, ...(chosen ? { filter: chosen } : {}) } as {
      userId?: string;
      cursor?: string;
      limit: number;
      filter?: NonNullable<typeof filter>;
    };
  })
  .prefault({});
export type ListConnectionsInput = z.output<typeof listConnectionsInput>;

export const updateConnectionInput = inputObject({
  id: connectionIdSchema,
  /** When given, the update applies only if the connection is still at this version (optimistic locking). */
  version: exact(z.number().int().min(1)).optional(),
  name: nameSchema.optional(),
  credentials: credentialsSchema.optional(),
  scopes: scopesSchema.optional(),
  datasets: datasetsSchema.optional(),
  autoRefresh: exact(z.boolean()).optional(),
  refreshIntervalMinutes: refreshIntervalSchema.optional(),
  consentDays: consentDaysSchema.nullable().optional(),
});
export type UpdateConnectionInput = z.output<typeof updateConnectionInput>;

export const deleteConnectionInput = inputObject({ id: connectionIdSchema });
export const deleteAllConnectionsInput = inputObject({ userId: userIdSchema });

// Output schemas: what the API returns, exactly (tRPC checks every answer against them; OpenAPI documents them).

const datasetExtractionView = z
  .object({
    status: z.enum(['SUCCESS', 'FAILURE']),
    referenceId: z.string().nullable(),
    lastSuccess: dateTime.nullable(),
    lastUpdated: dateTime,
  })
  .nullable();

export const connectionView = z
  .object({
    id: z.guid(),
    appId: z.guid(),
    userId: z.string(),
    institutionId: z.string(),
    method: z.enum(INSTITUTION_METHODS),
    serviceProvider: z.string(),
    reference: z.string().nullable(),
    name: z.string().nullable(),
    scopes: z.array(z.string()).nullable(),
    datasets: z.array(z.enum(DATASETS)).nullable(),
    status: z.enum(CONNECTION_STATUSES),
    state: z.enum(CONNECTION_STATES),
    providerStatus: z.string().nullable(),
    error: connectionErrorView.nullable(),
    connectionState: z.object({
      status: z.enum(CONNECTION_STATUSES),
      connectedAt: dateTime.nullable(),
      disconnectedAt: dateTime.nullable(),
      BANK_ACCOUNT: datasetExtractionView,
      BANK_BALANCE: datasetExtractionView,
      BANK_TRANSACTION: datasetExtractionView,
      USER_INFO: datasetExtractionView,
    }),
    consentExpiresAt: dateTime.nullable(),
    consentDays: z.number().int().nullable(),
    autoRefresh: z.boolean(),
    refreshIntervalMinutes: z.number().int(),
    lastRefreshedAt: dateTime.nullable(),
    nextRefreshAt: dateTime.nullable(),
    hasCredentials: z.boolean(),
    userActionRequired: z.boolean(),
    failingSince: dateTime.nullable(),
    consecutiveFailures: z.number().int(),
    createdAt: dateTime,
    updatedAt: dateTime,
    version: z.number().int(),
  })
  .meta({ id: 'Connection' });

export const connectionPageView = z.object({ items: z.array(connectionView), nextCursor: z.string().nullable() });
export const deletedConnectionView = z.object({ id: z.guid() });
export const deletedConnectionsView = z.object({ deletedIds: z.array(z.guid()) });

/** connections.create: the connection and the job that makes it (follow the job, or wait for its webhook). */
export const createdConnectionView = z.object({ connection: connectionView, job: jobView });
/** connections.update: the connection, and the job when the change needs the provider (new credentials, datasets). */
export const updatedConnectionView = z.object({ connection: connectionView, job: jobView.nullable() });
/** connections.refresh: the job that refreshes (one already under way, when there is one). */
export const refreshResultView = z.object({ connectionId: z.guid(), job: jobView, alreadyRunning: z.boolean() });
export const refreshAllResultView = z.object({
  jobs: z.array(refreshResultView),
  skipped: z.array(z.object({ connectionId: z.guid(), reason: z.string() })),
});
