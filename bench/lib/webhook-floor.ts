// The webhook floor: a bare got loop posting signed bodies to the receivers at a fixed concurrency, with nothing
// else (no queue, no database). Args: a JSON file { targets: [{ url, secret }], body, total, concurrency }.
// Prints one JSON line: { ms, sent, failed }.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import got from 'got';
import { Webhook } from 'standardwebhooks';

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as {
  targets: { url: string; secret: string }[];
  body: string;
  total: number;
  concurrency: number;
};
const signers = spec.targets.map((t) => ({ url: t.url, webhook: new Webhook(t.secret) }));
let next = 0;
let failed = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: spec.concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= spec.total) return;
      const target = signers[i % signers.length]!;
      const id = randomUUID();
      const now = new Date();
      const response = await got.post(target.url, {
        body: spec.body,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': target.webhook.sign(id, now, spec.body),
        },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
        timeout: { connect: 5_000, request: 15_000 },
      });
      if (response.statusCode >= 300) failed++;
    }
  }),
);
console.log(JSON.stringify({ ms: performance.now() - t0, sent: spec.total, failed }));
