import { z } from 'zod';
import { ACCOUNT_TYPES, PROVIDER_ERROR_KINDS, RATE_LIMIT_SCOPES } from '../provider.ts';

/**
 * The plug-in provider protocol (docs/plugin-provider-protocol.md), shared by the HTTP client (http-provider.ts)
 * and the reference server (reference-provider-server.ts). Every call is `POST {baseUrl}/v1/<operation>` with a
 * JSON body. The schemas are zod codecs: `parse` turns wire JSON (ISO strings) into the Provider interface's
 * types (Dates), `z.encode` turns them back, so both sides convert in exactly one way.
 */

export const PLUGIN_OPERATIONS = ['verify', 'challenge', 'accounts', 'transactions', 'revoke'] as const;
export type PluginOperation = (typeof PLUGIN_OPERATIONS)[number];

/** finAPI's convention: the data holder wants the user to answer a challenge before it goes on. */
export const CHALLENGE_STATUS = 510;
export const RATE_LIMITED_STATUS = 429;

/** The kinds a 4xx error body may carry; rate limits (429) and transient faults (5xx) are told by the status. */
export const CLIENT_ERROR_KINDS = [
  'invalid-credentials',
  'challenge-failed',
  'consent-expired',
  'revoked',
  'consent-denied',
  'permanent',
] as const;
export type ClientErrorKind = (typeof CLIENT_ERROR_KINDS)[number];

/** The status the reference server answers each typed kind with. Advisory: clients decide by the body's kind. */
export const CLIENT_ERROR_STATUS: Record<ClientErrorKind, number> = {
  'invalid-credentials': 401,
  'challenge-failed': 401,
  'consent-expired': 403,
  revoked: 403,
  'consent-denied': 403,
  permanent: 422,
};

const isoDateTime = z.codec(z.iso.datetime({ offset: true }), z.date(), {
  decode: (iso) => new Date(iso),
  encode: (date) => date.toISOString(),
});

// Bounds follow the columns the answers are stored in (entities/): a value past them is a protocol error the
// provider hears about, never a failed write that would retry the job for ever.

/** Money travels as exact decimal strings ("-12.30"), never JSON numbers; at most 16 digits before the point. */
const decimal = z
  .string()
  .regex(/^-?\d{1,16}(\.\d{1,20})?$/, 'expected an exact decimal string such as "-12.30", at most 16 digits before the point');
const currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code');
const id = z.string().min(1).max(255);

export const pluginContextSchema = z.object({
  institutionId: id,
  connection: z.object({ id, reference: id.nullable(), name: z.string().nullable() }),
  credentials: z.record(z.string(), z.string()),
  /** For redirect sign-in: where the bank sends the user back, and the state to pass along. Added in v1; optional. */
  authorization: z.object({ callbackUrl: z.string(), state: z.string() }).optional(),
  /** How long the consent should last, when the app asked. Added in v1; optional. */
  consentDays: z.number().int().min(1).nullable().optional(),
  /** The user is there (not a scheduled refresh): a redirect bank may send them to sign in now. Added in v1; optional. */
  userPresent: z.boolean().optional(),
  attempt: z.number().int().min(1),
  now: isoDateTime,
});

export const pluginSessionSchema = z.object({
  reference: id,
  providerStatus: z.string().max(64),
  consentExpiresAt: isoDateTime.nullable(),
  token: z.string(),
  userInfo: z.object({ name: z.string(), email: z.string().nullable() }).nullable(),
});

export const pluginChallengeSchema = z
  .object({
    id,
    message: z.string().max(1_000),
    type: z.enum(['TEXT', 'DECOUPLED', 'IMAGE', 'REDIRECT']),
    expiresAt: isoDateTime,
    /** REDIRECT: the bank's page to send the user to (http or https). */
    redirectUrl: z
      .url({ protocol: /^https?$/ })
      .max(4_096)
      .nullable()
      .optional(),
  })
  .refine((c) => c.type !== 'REDIRECT' || !!c.redirectUrl, {
    message: 'a REDIRECT challenge needs its redirectUrl',
    path: ['redirectUrl'],
  });

export const pluginAccountSchema = z.object({
  id,
  name: z.string().max(255),
  type: z.enum(ACCOUNT_TYPES),
  currency,
  balance: decimal,
  availableBalance: decimal.nullable(),
});

export const pluginTransactionSchema = z.object({
  id,
  accountId: id,
  amount: decimal,
  currency,
  description: z.string().max(1_000),
  bookedAt: isoDateTime,
  status: z.enum(['pending', 'posted']),
});

export const pluginRequestSchemas = {
  verify: pluginContextSchema,
  challenge: pluginContextSchema.extend({ challenge: pluginChallengeSchema, response: z.string() }),
  accounts: pluginContextSchema.extend({ session: pluginSessionSchema }),
  transactions: pluginContextSchema.extend({ session: pluginSessionSchema, accountId: id, since: isoDateTime.nullable() }),
  revoke: pluginContextSchema.extend({ session: pluginSessionSchema.nullable() }),
} satisfies Record<PluginOperation, z.ZodType>;

/** 200 bodies; `revoke` answers 204 with no body. */
export const pluginResponseSchemas = {
  verify: pluginSessionSchema,
  challenge: pluginSessionSchema,
  accounts: z.object({ accounts: z.array(pluginAccountSchema) }),
  transactions: z.object({ transactions: z.array(pluginTransactionSchema) }),
} satisfies Record<Exclude<PluginOperation, 'revoke'>, z.ZodType>;
export type PluginOperationWithBody = keyof typeof pluginResponseSchemas;

/** The body of a 510. */
export const pluginChallengeBodySchema = z.object({ challenge: pluginChallengeSchema });

/** The body of every error answer. On 429 and 5xx it is informative only (and may be absent or not JSON). */
export const pluginErrorBodySchema = z.object({
  error: z.object({
    kind: z.enum(PROVIDER_ERROR_KINDS),
    code: z.string().min(1).max(100),
    message: z.string().max(2_000),
    /** On 429: what is limited, `connection`, `institution` (the default) or `provider`. */
    scope: z.enum(RATE_LIMIT_SCOPES).optional(),
    /** Flat on purpose: they end up in the connection's error, which apps read. */
    attributes: z
      .record(z.string().max(100), z.union([z.string().max(1_000), z.number(), z.boolean(), z.null()]))
      .refine((a) => Object.keys(a).length <= 50, 'at most 50 attributes')
      .optional(),
  }),
});

// Wire types (what goes over HTTP: ISO strings) and decoded types (what the Provider interface uses: Dates).
export type PluginRequest<Op extends PluginOperation> = z.input<(typeof pluginRequestSchemas)[Op]>;
export type DecodedPluginRequest<Op extends PluginOperation> = z.output<(typeof pluginRequestSchemas)[Op]>;
export type PluginResponse<Op extends PluginOperationWithBody> = z.input<(typeof pluginResponseSchemas)[Op]>;
export type DecodedPluginResponse<Op extends PluginOperationWithBody> = z.output<(typeof pluginResponseSchemas)[Op]>;
export type PluginContext = z.input<typeof pluginContextSchema>;
export type PluginSession = z.input<typeof pluginSessionSchema>;
export type PluginChallenge = z.input<typeof pluginChallengeSchema>;
export type PluginAccount = z.input<typeof pluginAccountSchema>;
export type PluginTransaction = z.input<typeof pluginTransactionSchema>;
export type PluginChallengeBody = z.input<typeof pluginChallengeBodySchema>;
export type PluginErrorBody = z.input<typeof pluginErrorBodySchema>;

/** A short, value-free description of why a body failed its schema (paths and rules, never the input). */
export function describeIssues(error: z.ZodError, max = 5): string {
  const shown = error.issues.slice(0, max).map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.message}`);
  const more = error.issues.length > max ? `; and ${error.issues.length - max} more` : '';
  return shown.join('; ') + more;
}
