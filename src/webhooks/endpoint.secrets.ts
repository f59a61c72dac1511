import type { WebhookEndpoint } from '../../entities/index.ts';
import type { CredentialCipher } from '../security/credential-cipher.ts';

/** Signing secrets are stored encrypted like credentials, each bound to its own endpoint row. */
const binding = (e: Pick<WebhookEndpoint, 'appId' | 'id'>) => `${e.appId}:${e.id}:webhook-secret`;

export function sealSecret(cipher: CredentialCipher, endpoint: Pick<WebhookEndpoint, 'appId' | 'id'>, secret: string) {
  return cipher.seal({ secret }, binding(endpoint));
}

/** The secrets that sign right now: the current one, and the previous one while its rotation overlap lasts. */
export function openSecrets(cipher: CredentialCipher, e: WebhookEndpoint, now: Date): string[] {
  const secrets = [cipher.open({ ciphertext: e.secretCiphertext, keyId: e.secretKeyId }, binding(e)).secret!];
  if (e.previousSecretCiphertext && e.previousSecretKeyId && e.previousSecretExpiresAt && e.previousSecretExpiresAt > now) {
    secrets.push(cipher.open({ ciphertext: e.previousSecretCiphertext, keyId: e.previousSecretKeyId }, binding(e)).secret!);
  }
  return secrets;
}
