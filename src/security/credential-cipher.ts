import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What a sealed secret is bound to (the cipher's associated data): a ciphertext copied to another row does not open.
 * A connection's credentials open only on their own row.
 */
export const credentialBinding = (appId: string, connectionId: string) => `${appId}:${connectionId}`;
/** The user's answer to a job's challenge, bound to that job. */
export const challengeBinding = (appId: string, jobId: string) => `${appId}:${jobId}:challenge`;

export interface CredentialKey {
  id: string;
  key: Buffer;
}

export interface SealedCredentials {
  ciphertext: Buffer;
  keyId: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for connection credentials. The first key encrypts; every key decrypts, found by the key id stored
 * beside the ciphertext, so keys can rotate without re-encrypting at once. The additional data binds a ciphertext
 * to its row (app and connection ids), so it cannot be copied onto another connection and decrypted there.
 */
export class CredentialCipher {
  private readonly byId: Map<string, Buffer>;
  private readonly active: CredentialKey;

  constructor(keys: CredentialKey[]) {
    const [active] = keys;
    if (!active) throw new Error('CredentialCipher needs at least one key');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`credential key ${k.id} is not 32 bytes`);
    this.active = active;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  seal(credentials: Record<string, string>, boundTo: string): SealedCredentials {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.active.key, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const body = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return { ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]), keyId: this.active.id };
  }

  open(sealed: SealedCredentials, boundTo: string): Record<string, string> {
    const key = this.byId.get(sealed.keyId);
    if (!key) throw new Error(`credential key ${sealed.keyId} is not configured (CREDENTIALS_KEYS)`);
    const iv = sealed.ciphertext.subarray(0, IV_BYTES);
    const tag = sealed.ciphertext.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(sealed.ciphertext.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Record<string, string>;
  }
}

/** Dev mode: a key generated once into DATA_DIR, so credentials survive restarts without any set-up. */
export function loadOrCreateDevKey(dataDir: string): CredentialKey {
  const file = path.join(dataDir, 'credentials.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `dev1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }
  const [id, b64] = readFileSync(file, 'utf8').trim().split(':');
  return { id: id!, key: Buffer.from(b64 ?? '', 'base64') };
}
