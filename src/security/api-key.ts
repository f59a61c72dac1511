import { createHash, randomBytes } from 'node:crypto';

/** Recognisable in logs and by secret scanners. */
export const API_KEY_PREFIX = 'csk_';

export interface IssuedApiKey {
  /** Shown once, never stored. */
  key: string;
  hash: string;
  /** A short, non-secret prefix for listings. */
  displayPrefix: string;
}

export function issueApiKey(): IssuedApiKey {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key), displayPrefix: key.slice(0, 10) };
}

/** 32 random bytes leave nothing to brute-force, so a plain sha256 (indexable, constant work) is the right hash. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX) && value.length >= API_KEY_PREFIX.length + 43 && value.length <= 200;
}
