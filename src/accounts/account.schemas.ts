import { z } from 'zod';
import { connectionIdSchema, CURSOR, userIdSchema } from '../connections/connection.schemas.ts';
import { coercedDate, dateTime, inputObject, intParam } from '../validation.ts';
import { TRANSACTION_STATUSES } from '../../entities/index.ts';

/**
 * Exactly one of the given keys, as a field issue on the first one. (A union of strict objects would do the same,
 * but reports a mismatch only as "(input): Invalid input", naming no field.)
 */
function exactlyOneOf<K extends string>(keys: readonly K[]) {
  return (input: Partial<Record<K, unknown>>, ctx: z.RefinementCtx) => {
    const given = keys.filter((k) => input[k] !== undefined);
    if (given.length === 1) return;
    const alternatives = keys.join(' or ');
    ctx.addIssue({
      code: 'custom',
      path: [given[1] ?? keys[0]!],
      message: given.length === 0 ? `give ${alternatives}` : `give ${alternatives}, not both`,
    });
  };
}

export const listAccountsInput = inputObject({
  connectionId: connectionIdSchema.optional(),
  userId: userIdSchema.optional(),
})
  .superRefine(exactlyOneOf(['connectionId', 'userId']))
  .transform(({ connectionId, userId }): { connectionId: string } | { userId: string } =>
    connectionId !== undefined ? { connectionId } : { userId: userId! },
  );
export type ListAccountsInput = z.output<typeof listAccountsInput>;

const accountIdSchema = z.uuid({ message: 'must be an account id (uuid)' });

export const listTransactionsInput = inputObject({
  accountId: accountIdSchema.optional(),
  connectionId: connectionIdSchema.optional(),
  // A Date from tRPC clients, an ISO string from REST's query string.
  from: coercedDate.optional(),
  to: coercedDate.optional(),
  cursor: z.string().min(1).max(200).meta({ description: CURSOR }).optional(),
  limit: intParam(1, 500).default(100),
})
  .superRefine(exactlyOneOf(['accountId', 'connectionId']))
  .refine((i) => !i.from || !i.to || i.from <= i.to, { message: 'from must not be after to', path: ['from'] })
  .transform(({ accountId, connectionId, ...range }): (typeof range & { accountId: string }) | (typeof range & { connectionId: string }) =>
    accountId !== undefined ? { ...range, accountId } : { ...range, connectionId: connectionId! },
  );
export type ListTransactionsInput = z.output<typeof listTransactionsInput>;

// Output schemas.

export const accountView = z
  .object({
    id: z.guid(),
    connectionId: z.guid(),
    providerId: z.string(),
    name: z.string(),
    type: z.string(),
    currency: z.string(),
    /** Exact decimal strings. */
    balance: z.string(),
    availableBalance: z.string().nullable(),
    lastUpdatedAt: dateTime,
  })
  .meta({ id: 'Account' });
export const accountListView = z.array(accountView);

export const transactionView = z
  .object({
    id: z.guid(),
    accountId: z.guid(),
    connectionId: z.guid(),
    providerId: z.string(),
    amount: z.string(),
    currency: z.string(),
    description: z.string(),
    bookedAt: dateTime,
    status: z.enum(TRANSACTION_STATUSES),
  })
  .meta({ id: 'Transaction' });
export const transactionPageView = z.object({ items: z.array(transactionView), nextCursor: z.string().nullable() });
