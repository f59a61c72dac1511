import { createHash, randomBytes } from 'node:crypto';

/** A fresh OAuth `state`: unguessable, URL-safe. */
export const newState = () => randomBytes(24).toString('base64url');

/** The state as stored: only its hash, so someone reading the database cannot answer a redirect with it. */
export const hashState = (state: string) => createHash('sha256').update(state).digest('hex');
