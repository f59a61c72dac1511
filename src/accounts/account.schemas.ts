import { z } from 'zod';
import { connectionIdSchema, userIdSchema } from '../connections/connection.schemas.ts';

export const listAccountsInput = z.union([
  z.strictObject({ connectionId: connectionIdSchema }),
  z.strictObject({ userId: userIdSchema }),
]);
export type ListAccountsInput = z.output<typeof listAccountsInput>;

const accountIdSchema = z.uuid({ message: 'must be an account id (uuid)' });

const range = {
  from: z.date().optional(),
  to: z.date().optional(),
  cursor: z.string().min(1).max(200).optional(),
  limit: z.number().int().min(1).max(500).default(100),
};

export const listTransactionsInput = z
  .union([
    z.strictObject({ accountId: accountIdSchema, ...range }),
    z.strictObject({ connectionId: connectionIdSchema, ...range }),
  ])
  .refine((i) => !i.from || !i.to || i.from <= i.to, { message: 'from must not be after to', path: ['from'] });
export type ListTransactionsInput = z.output<typeof listTransactionsInput>;
