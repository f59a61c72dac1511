import { z } from 'zod';
import { DATASETS, INSTITUTION_METHODS, INSTITUTION_STATUSES, SIGN_IN_METHODS, type Institution } from '../../entities/index.ts';
import { institutionIdSchema } from './institution-id.schema.ts';
import { AppError, ErrorCode, formatPath, type FieldIssue } from '../errors.ts';
import { BUILT_IN_PROVIDER_KEYS } from '../providers/provider-registry.ts';
import { inputObject, noControlChars } from '../validation.ts';

/** An institution as an operator defines it (CLI, INSTITUTIONS_FILE): every column but the timestamps. */
export type InstitutionDefinition = Omit<Institution, 'createdAt' | 'updatedAt'>;

const credentialField = z.strictObject({
  /** The key in a connection's `credentials` (the same rule as connections.create's). */
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must be letters, digits and _ (at most 64), starting with a letter'),
  label: z.string().trim().min(1).max(200),
  secret: z.boolean().default(false),
  required: z.boolean().default(true),
});

/** The fields and their rules one by one; the rules between fields are in `definitionSchema` below. */
const fields = {
  id: institutionIdSchema,
  name: z.string().trim().min(1).max(200),
  country: z
    .string()
    .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as GB')
    .transform((c) => c.toUpperCase()),
  method: z.enum(INSTITUTION_METHODS),
  /** The provider: for `built-in`, one this process carries; for `plug-in`, a name for the plug-in (its pauses and metrics go by it). */
  providerKey: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lowercase letters, digits, _ and - (at most 64)'),
  providerUrl: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .max(2048)
    .nullable()
    .default(null),
  bankCode: z.string().trim().min(1).max(16).nullable().default(null),
  datasets: z
    .array(z.enum(DATASETS))
    .min(1, 'must name at least one dataset')
    .refine((d) => new Set(d).size === d.length, 'must not repeat a dataset'),
  credentialFields: z
    .array(credentialField)
    .max(20)
    .refine((f) => new Set(f.map((x) => x.name)).size === f.length, 'must not repeat a field name')
    .default([]),
  signIn: z.enum(SIGN_IN_METHODS).default('credentials'),
  minRefreshIntervalMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  status: z.enum(INSTITUTION_STATUSES).default('operational'),
  enabled: z.boolean().default(true),
};

/** A whole institution: unknown keys are refused (a typo must not be silently ignored). */
export const definitionSchema = z.strictObject(fields).superRefine((d, ctx) => {
  if (d.method === 'plug-in' && !d.providerUrl)
    ctx.addIssue({ code: 'custom', path: ['providerUrl'], message: 'is required for a plug-in institution' });
  if (d.method === 'built-in') {
    if (!(BUILT_IN_PROVIDER_KEYS as readonly string[]).includes(d.providerKey)) {
      ctx.addIssue({
        code: 'custom',
        path: ['providerKey'],
        message: `must be one of ${BUILT_IN_PROVIDER_KEYS.join(', ')} for a built-in institution`,
      });
    }
    if (d.providerUrl)
      ctx.addIssue({ code: 'custom', path: ['providerUrl'], message: 'must be null for a built-in institution (only plug-ins have one)' });
  }
  if (d.signIn === 'redirect' && d.credentialFields.length) {
    ctx.addIssue({
      code: 'custom',
      path: ['credentialFields'],
      message: 'must be empty when signIn is redirect (the user signs in at the bank)',
    });
  }
});

/**
 * A change to an institution: any of its fields but the id, without the defaults (a field left out stays as it
 * is; zod would otherwise fill it in); the result is checked whole again by `definitionSchema`.
 */
const { id: _id, ...changeable } = fields;
export const updateSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(changeable).map(([k, s]) => [k, (s instanceof z.ZodDefault ? (s.unwrap() as z.ZodType) : s).optional()]),
  ),
) as unknown as z.ZodType<Partial<Omit<InstitutionDefinition, 'id'>>>;

/** The file INSTITUTIONS_FILE names: `{ "institutions": [ … ] }`. */
export const institutionsFileSchema = z.strictObject({
  institutions: z
    .array(definitionSchema)
    .refine((list) => new Set(list.map((i) => i.id)).size === list.length, 'must not list an institution id twice'),
});

/** Parses with `schema`, or throws AppError VALIDATION naming every bad field ("datasets[1]: …"). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: (string | number)[] = []): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: FieldIssue[] = result.error.issues.map((i) => ({
    path: [...prefix, ...(i.path as (string | number)[])],
    message: i.message,
  }));
  throw new AppError(ErrorCode.VALIDATION, issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'), { issues });
}

/** What the API answers for an institution (institution.presenter.ts makes it). */
export const institutionView = z
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

/** institutions.list: by country, by a part of the name or id, or an exact bank code. */
export const listInstitutionsInput = inputObject({
  country: z
    .string()
    .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')
    .optional(),
  search: z.string().trim().min(1).max(100).regex(noControlChars, 'must not contain control characters').optional(),
}).default({});

export const institutionIdInput = inputObject({ id: institutionIdSchema });
