import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/db/keyset-cursor.ts';
import { AppError } from '../../src/errors.ts';
import { plannedStepTitles } from '../../src/jobs/job.steps.ts';
import { compareDecimal } from '../../src/providers/money.ts';
import { challengeBinding, credentialBinding } from '../../src/security/credential-cipher.ts';
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

describe('decimal comparison (providers/money.ts, the one home)', () => {
  it('compares money exactly, whatever the scale or sign', () => {
    expect(compareDecimal('100.0000', '100')).toBe(0);
    expect(compareDecimal('99.9999', '100')).toBe(-1);
    expect(compareDecimal('-5', '-4.99')).toBe(-1);
    expect(compareDecimal('10', '9.99')).toBe(1);
    expect(compareDecimal('-0.00', '0')).toBe(0);
    expect(() => compareDecimal('1e3', '1')).toThrow('not a decimal');
  });
});

describe('sealed-secret bindings', () => {
  it('bind credentials to their connection and a challenge answer to its job, never to each other', () => {
    expect(credentialBinding('app', 'c1')).toBe('app:c1');
    expect(challengeBinding('app', 'j1')).toBe('app:j1:challenge');
    expect(challengeBinding('app', 'c1')).not.toBe(credentialBinding('app', 'c1'));
  });
});
