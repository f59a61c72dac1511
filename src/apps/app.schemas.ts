import { z } from 'zod';
import { inputObject, noControlChars } from '../validation.ts';

export const redirectUriInput = inputObject({
  uri: z.string().trim().min(1).max(2048).regex(noControlChars, 'must not contain control characters'),
});

/** apps.get takes nothing. */
export const getAppInput = inputObject({}).optional();
