import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CredentialCipher, loadOrCreateDevKey } from '../../src/security/credential-cipher.ts';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('CredentialCipher', () => {
  const creds = { loginId: 'gavin', password: 'p@ss' };

  it('round-trips, and the ciphertext holds no plaintext', () => {
    const cipher = new CredentialCipher([key('k1')]);
    const sealed = cipher.seal(creds, 'app:conn');
    expect(sealed.keyId).toBe('k1');
    expect(sealed.ciphertext.toString('latin1')).not.toContain('p@ss');
    expect(cipher.open(sealed, 'app:conn')).toEqual(creds);
  });

  it('does not open on another row (bound by additional data) or when tampered with', () => {
    const cipher = new CredentialCipher([key('k1')]);
    const sealed = cipher.seal(creds, 'app:conn-a');
    expect(() => cipher.open(sealed, 'app:conn-b')).toThrow();
    const tampered = Buffer.from(sealed.ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => cipher.open({ ...sealed, ciphertext: tampered }, 'app:conn-a')).toThrow();
  });

  it('rotates: the first key encrypts, older keys still decrypt by id', () => {
    const oldKey = key('old');
    const before = new CredentialCipher([oldKey]).seal(creds, 'b');
    const rotated = new CredentialCipher([key('new'), oldKey]);
    expect(rotated.open(before, 'b')).toEqual(creds);
    expect(rotated.seal(creds, 'b').keyId).toBe('new');
    expect(() => new CredentialCipher([key('new')]).open(before, 'b')).toThrow(/old/);
  });

  it('dev mode generates one key into DATA_DIR, readable only by its owner, and reuses it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-key-'));
    const a = loadOrCreateDevKey(dir);
    const b = loadOrCreateDevKey(dir);
    expect(a.key.equals(b.key)).toBe(true);
    expect(a.key).toHaveLength(32);
    expect(statSync(path.join(dir, 'credentials.key')).mode & 0o077).toBe(0);
  });
});
