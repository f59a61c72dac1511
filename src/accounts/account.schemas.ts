import { z } from 'zod';
import { connectionIdSchema, userIdSchema } from '../connections/connection.schemas.ts';
import { apiDate, inputObject } from '../validation.ts';

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
  .transform(({ connectionId, userId }): { connectionId: string } | { userId: string } => (connectionId !== undefined ? { connectionId } : { userId: userId! }));
export type ListAccountsInput = z.output<typeof listAccountsInput>;

const accountIdSchema = z.uuid({ message: 'must be an account id (uuid)' });

export const listTransactionsInput = inputObject({
  accountId: accountIdSchema.optional(),
  connectionId: connectionIdSchema.optional(),
  from: apiDate.optional(),
  to: apiDate.optional(),
  cursor: z.string().min(1).max(200).optional(),
  limit: z.number().int().min(1).max(500).default(100),
})
  .superRefine(exactlyOneOf(['accountId', 'connectionId']))
  .refine((i) => !i.from || !i.to || i.from <= i.to, { message: 'from must not be after to', path: ['from'] })
  .transform(({ accountId, connectionId, ...range }): (typeof range & { accountId: string }) | (typeof range & { connectionId: string }) => (accountId !== undefined ? { ...range, accountId } : { ...range, connectionId: connectionId! }));
export type ListTransactionsInput = z.output<typeof listTransactionsInput>;
