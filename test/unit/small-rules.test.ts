import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/db/keyset-cursor.ts';
import { AppError } from '../../src/errors.ts';
import { plannedStepTitles } from '../../src/jobs/job.steps.ts';
import { hashApiKey, issueApiKey, looksLikeApiKey } from '../../src/security/api-key.ts';

describe('API keys', () => {
  it('are csk_-prefixed, 32 random bytes, stored as a sha256', () => {
    const a = issueApiKey();
    const b = issueApiKey();
    expect(a.key).toMatch(/^csk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.key.slice(4), 'base64url')).toHaveLength(32);
    expect(a.key).not.toBe(b.key);
    expect(a.hash).toBe(hashApiKey(a.key));
    expect(a.hash).not.toContain(a.key.slice(4));
    expect(looksLikeApiKey(a.key)).toBe(true);
    expect(looksLikeApiKey('Bearer nonsense')).toBe(false);
  });
});

describe('keyset cursor', () => {
  it('round-trips millisecond timestamps exactly', () => {
    const pos = { at: new Date('2026-03-04T05:06:07.089Z'), id: '6f1c1a3e-9a57-4b8e-8a55-0f0e4a6e1c2b' };
    expect(decodeCursor(encodeCursor(pos))).toEqual(pos);
  });

  it('rejects anything else as VALIDATION on the cursor field', () => {
    for (const bad of ['', 'x', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["not a date","id"]').toString('base64url')]) {
      try {
        decodeCursor(bad);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).details.issues?.[0]?.path).toEqual(['cursor']);
      }
    }
  });
});

describe('job steps', () => {
  it('follow the datasets', () => {
    expect(plannedStepTitles(['BANK_ACCOUNT', 'BANK_BALANCE', 'BANK_TRANSACTION', 'USER_INFO'])).toEqual([
      'verify-credentials',
      'retrieve-accounts',
      'retrieve-transactions',
    ]);
    expect(plannedStepTitles(['BANK_BALANCE'])).toEqual(['verify-credentials', 'retrieve-accounts']);
    expect(plannedStepTitles(['USER_INFO'])).toEqual(['verify-credentials']);
    // Transactions need accounts to hang on.
    expect(plannedStepTitles(['BANK_TRANSACTION'])).toEqual(['verify-credentials', 'retrieve-accounts', 'retrieve-transactions']);
  });
});
