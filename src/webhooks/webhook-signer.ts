import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/** A new signing secret in the Standard Webhooks form: `whsec_` and 24 random bytes in base64. */
export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

/**
 * The Standard Webhooks headers for one attempt. `webhook-id` is the event id, the same on every retry, so
 * subscribers can drop duplicates; every given secret signs (during a rotation both the new and the old one).
 */
export function signatureHeaders(messageId: string, sentAt: Date, body: string, secrets: readonly string[]): Record<string, string> {
  const timestamp = String(Math.floor(sentAt.getTime() / 1000));
  const signed = `${messageId}.${timestamp}.${body}`;
  return {
    'webhook-id': messageId,
    'webhook-timestamp': timestamp,
    'webhook-signature': secrets.map((s) => sign(s, signed)).join(' '),
  };
}

/**
 * `v1,` and base64(HMAC-SHA256(key, "id.timestamp.body")), the key being the secret's base64 after its prefix: what
 * the standardwebhooks package's `sign` returns (test/unit/webhook-signer.test.ts compares them), through OpenSSL's
 * HMAC instead of its JavaScript SHA-256, which cost each delivery about 60 µs of the worker's CPU.
 */
function sign(secret: string, signed: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  if (key.length === 0) throw new Error("a webhook secret can't be empty");
  return `v1,${createHmac('sha256', key).update(signed, 'utf8').digest('base64')}`;
}
