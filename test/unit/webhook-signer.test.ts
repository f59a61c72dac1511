import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSecret, signatureHeaders } from '../../src/webhooks/webhook-signer.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

describe('webhook signatures', () => {
  it('are what the standardwebhooks package signs, byte for byte, for any id, time and body', () => {
    const random = seededRandom(14);
    const text = (n: number) =>
      Array.from({ length: n }, () =>
        String.fromCodePoint(random() < 0.8 ? 32 + Math.floor(random() * 95) : 0xa0 + Math.floor(random() * 0x2000)),
      ).join('');
    for (let i = 0; i < 500; i++) {
      const secrets = Array.from({ length: 1 + Math.floor(random() * 2) }, () => generateSecret());
      const id = random() < 0.5 ? `evt_${i}` : text(1 + Math.floor(random() * 40));
      const at = new Date(Math.floor(random() * 4_000_000_000_000));
      const body = text(Math.floor(random() * 3000));
      const headers = signatureHeaders(id, at, body, secrets);
      expect(headers['webhook-id']).toBe(id);
      expect(headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
      expect(headers['webhook-signature']).toBe(secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' '));
    }
  });

  it('take a secret without its whsec_ prefix the way the package does, and refuse an empty one', () => {
    const secret = generateSecret();
    const bare = secret.slice('whsec_'.length);
    const at = new Date('2026-12-02T10:00:00Z');
    expect(signatureHeaders('m', at, '{}', [bare])['webhook-signature']).toBe(new Webhook(bare).sign('m', at, '{}'));
    expect(() => signatureHeaders('m', at, '{}', ['whsec_'])).toThrow(/empty/);
  });
});
