import { z } from 'zod';
import { consentDaysSchema, datasetsSchema, institutionIdSchema, userIdSchema } from '../connections/connection.schemas.ts';
import { dateTime, inputObject, noControlChars, uuidOf } from '../validation.ts';
import { CONNECT_SESSION_STATUSES, DATASETS } from '../../entities/index.ts';

/** The languages the hosted pages speak. */
export const CONNECT_LOCALES = ['en', 'de'] as const;
export type ConnectLocale = (typeof CONNECT_LOCALES)[number];

/** What a consent lasts when the app does not say (PSD2's 90 days of access without asking again). */
export const DEFAULT_CONSENT_DAYS = 90;

export const createConnectSessionInput = inputObject({
  userId: userIdSchema,
  /** The bank, when the app already knows it: the user skips choosing one. */
  institutionId: institutionIdSchema.optional(),
  /** Repair mode: an existing connection gets new credentials, a renewed consent or a re-authorisation. */
  connectionId: uuidOf('a connection').optional(),
  datasets: datasetsSchema.unwrap().optional(),
  /** Where the user goes at the end; one of the app's registered redirect URIs, exactly. */
  redirectUri: z.string().min(1).max(2048).regex(noControlChars, 'must not contain control characters').optional(),
  consentDays: consentDaysSchema.default(DEFAULT_CONSENT_DAYS),
  /** The pages' language; without it, the browser's (Accept-Language), else English. */
  locale: z.enum(CONNECT_LOCALES).optional(),
});
export type CreateConnectSessionInput = z.output<typeof createConnectSessionInput>;

export const connectSessionIdInput = inputObject({ id: uuidOf('a connect session') });

// Output schemas.

/** connectSessions.create: the URL to send the user to (it carries the session's secret; it is shown only here). */
export const createdConnectSessionView = z.object({ id: z.guid(), url: z.string(), expiresAt: dateTime });

export const connectSessionView = z
  .object({
    id: z.guid(),
    userId: z.string(),
    status: z.enum(CONNECT_SESSION_STATUSES),
    institutionId: z.string().nullable(),
    connectionId: z.guid().nullable(),
    jobId: z.guid().nullable(),
    repair: z.boolean(),
    datasets: z.array(z.enum(DATASETS)).nullable(),
    redirectUri: z.string().nullable(),
    consentDays: z.number().int(),
    locale: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    expiresAt: dateTime,
    createdAt: dateTime,
    updatedAt: dateTime,
    finishedAt: dateTime.nullable(),
  })
  .meta({ id: 'ConnectSession' });
