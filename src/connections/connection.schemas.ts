import { z } from 'zod';
import { CONNECTION_STATES, CONNECTION_STATUSES, DATASETS, INSTITUTION_METHODS } from '../../entities/index.ts';
import { inputObject, noControlChars } from '../validation.ts';

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
export const institutionIdSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be an institution id such as AU00000');

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
const refreshIntervalSchema = z.number().int().min(15).max(43_200);

/** How long the consent the user gives should last: a day to a year (open banking's longest). */
export const consentDaysSchema = z.number().int().min(1).max(365);

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
  autoRefresh: z.boolean().optional(),
  refreshIntervalMinutes: refreshIntervalSchema.optional(),
  consentDays: consentDaysSchema.optional(),
});
export type CreateConnectionInput = z.output<typeof createConnectionInput>;

export const getConnectionInput = inputObject({ id: connectionIdSchema });

export const listConnectionsInput = inputObject({
  userId: userIdSchema.optional(),
  filter: inputObject({
    ids: z.array(connectionIdSchema).min(1).max(1000, 'at most 1000 ids').optional(),
    status: oneOrMany(z.enum(CONNECTION_STATUSES)).optional(),
    state: oneOrMany(z.enum(CONNECTION_STATES)).optional(),
    institutionId: oneOrMany(institutionIdSchema).optional(),
    method: oneOrMany(z.enum(INSTITUTION_METHODS)).optional(),
  }).optional(),
  cursor: z.string().min(1).max(200).optional(),
  limit: z.number().int().min(1).max(500).default(50),
}).default({ limit: 50 });
export type ListConnectionsInput = z.output<typeof listConnectionsInput>;

export const updateConnectionInput = inputObject({
  id: connectionIdSchema,
  /** When given, the update applies only if the connection is still at this version (optimistic locking). */
  version: z.number().int().min(1).optional(),
  name: nameSchema.optional(),
  credentials: credentialsSchema.optional(),
  scopes: scopesSchema.optional(),
  datasets: datasetsSchema.optional(),
  autoRefresh: z.boolean().optional(),
  refreshIntervalMinutes: refreshIntervalSchema.optional(),
  consentDays: consentDaysSchema.nullable().optional(),
});
export type UpdateConnectionInput = z.output<typeof updateConnectionInput>;

export const deleteConnectionInput = inputObject({ id: connectionIdSchema });
export const deleteAllConnectionsInput = inputObject({ userId: userIdSchema });
