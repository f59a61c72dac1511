import { z } from 'zod';

/** An institution's id as any input gives it (connections, connect sessions, the admin CLI): the institutions' own rule. */
export const institutionIdSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be an institution id such as AU00000');
