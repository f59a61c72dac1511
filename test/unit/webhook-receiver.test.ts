import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver();
  receivers.push(r);
  return r;
}

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

function signed(secret: string, body: string, msgId = `msg_${randomBytes(6).toString('hex')}`) {
  const at = new Date();
  return {
    'content-type': 'application/json',
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(msgId, at, body),
  };
}

const post = (url: string, headers: Record<string, string>, body: string) => fetch(url, { method: 'POST', headers, body });

describe('webhook receiver', () => {
  it('accepts a correctly signed request and records it', async () => {
    const r = await receiver();
    const secret = newSecret();
    r.secrets = [secret];
    const body = JSON.stringify({ type: 'connection.updated', data: { id: 'c1' } });
    const headers = signed(secret, body, 'msg_1');

    const res = await post(r.url, headers, body);

    expect(res.status).toBe(204);
    expect(r.url).toBe(`http://127.0.0.1:${r.port}/hook`);
    expect(r.received).toHaveLength(1);
    expect(r.received[0]).toMatchObject({
      webhookId: 'msg_1',
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      body,
      json: { type: 'connection.updated', data: { id: 'c1' } },
      type: 'connection.updated',
      verified: true,
      problem: null,
      status: 204,
    });
    expect(r.verifiedOfType('connection.updated')).toHaveLength(1);
    expect(r.verifiedOfType('connection.deleted')).toHaveLength(0);
  });

  it('verifies with any of its secrets (rotation)', async () => {
    const r = await receiver();
    const [oldSecret, newOne] = [newSecret(), newSecret()];
    r.secrets = [newOne, oldSecret];
    const body = JSON.stringify({ type: 'ping' });
    expect((await post(r.url, signed(oldSecret, body), body)).status).toBe(204);
    expect(r.received[0]?.verified).toBe(true);
  });

  it('rejects a tampered body, a wrong secret and missing headers with 400, still recording them', async () => {
    const r = await receiver();
    const secret = newSecret();
    r.secrets = [secret];
    const body = JSON.stringify({ type: 'connection.updated', data: { amount: 10 } });

    const tampered = await post(r.url, signed(secret, body), body.replace('10', '1000'));
    const wrongSecret = await post(r.url, signed(newSecret(), body), body);
    const unsigned = await post(r.url, { 'content-type': 'application/json' }, body);

    expect([tampered.status, wrongSecret.status, unsigned.status]).toEqual([400, 400, 400]);
    expect(r.received.map((x) => x.verified)).toEqual([false, false, false]);
    expect(r.received.map((x) => x.status)).toEqual([400, 400, 400]);
    expect(r.received[0]?.problem).toMatch(/No matching signature/);
    expect(r.received[2]?.problem).toMatch(/Missing required headers/);
    expect(r.verifiedOfType('connection.updated')).toHaveLength(0);
  });

  it('answers as respond() says, including a delay', async () => {
    const r = await receiver();
    const secret = newSecret();
    r.secrets = [secret];
    r.respond = () => ({ status: 503, headers: { 'retry-after': '7' }, delayMs: 100, body: 'later' });
    const body = JSON.stringify({ type: 'ping' });
    const started = Date.now();
    const res = await post(r.url, signed(secret, body), body);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.text()).toBe('later');
    expect(r.received[0]?.status).toBe(503);
  });

  it('waitFor resolves when the condition holds and otherwise says what arrived', async () => {
    const r = await receiver();
    const secret = newSecret();
    r.secrets = [secret];
    const body = JSON.stringify({ type: 'ping' });
    const waiting = r.waitFor((all) => all.some((x) => x.type === 'ping' && x.verified), 2_000);
    await post(r.url, signed(secret, body), body);
    await expect(waiting).resolves.toBeUndefined();
    await expect(r.waitFor((all) => all.length >= 2, 100)).rejects.toThrow(
      /within 100 ms; received 1:\n\s+#1 ping .*verified=true status=204/,
    );
  });

  it('stop() takes it down, hanging requests included, and start() brings it back on the same port', async () => {
    const r = await receiver();
    const secret = newSecret();
    r.secrets = [secret];
    r.respond = () => 'hang';
    const body = JSON.stringify({ type: 'ping' });
    const port = r.port;

    const hanging = post(r.url, signed(secret, body), body);
    await r.waitFor((all) => all.length === 1);
    await r.stop();
    await expect(hanging).rejects.toThrow();
    await expect(post(r.url, signed(secret, body), body)).rejects.toThrow(); // connection refused

    await r.start();
    expect(r.port).toBe(port);
    r.respond = () => ({ status: 200 });
    const res = await post(r.url, signed(secret, body), body);
    expect(res.status).toBe(200);
    expect(r.received).toHaveLength(2);
  });

  it('listens on the port it is given', async () => {
    const first = await receiver();
    const port = first.port;
    await first.close();
    const second = await startWebhookReceiver({ port });
    receivers.push(second);
    expect(second.url).toBe(`http://127.0.0.1:${port}/hook`);
  });
});
