import { z } from 'zod';
import { dateTime, inputObject, noControlChars } from '../validation.ts';

export const redirectUriInput = inputObject({
  uri: z.string().trim().min(1).max(2048).regex(noControlChars, 'must not contain control characters'),
});

/** apps.get takes nothing. */
export const getAppInput = inputObject({}).optional();

/** What an app knows about itself. The API key itself is never shown again after it was issued. */
export const appView = z
  .object({
    id: z.guid(),
    name: z.string(),
    apiKeyPrefix: z.string(),
    createdAt: dateTime,
    keyRotatedAt: dateTime.nullable(),
    redirectUris: z.array(z.string()),
  })
  .meta({ id: 'App' });
