import { z } from 'zod';

/**
 * A connection's or a job's error as the API shows it (the seed documents' category, origin, code, message): the
 * view of the entities' ConnectionError. Its own module, below both connections and jobs, because both schemas use it.
 */
export const connectionErrorView = z.object({
  category: z.enum(['functional', 'technical']),
  origin: z.enum(['customer', 'platform', 'provider']),
  code: z.string(),
  message: z.string(),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
