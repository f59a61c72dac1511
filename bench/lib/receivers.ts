// Webhook receivers for the benchmark, in their own process: N HTTP servers that verify every request with the
// standardwebhooks package and record when each arrived. Control: POST /control/secrets (JSON string[]),
// GET /control/stats (the counts only: the bench polls it while the service delivers, so it must stay as cheap as
// the floor's wait, which polls nothing), GET /control/receipts (the counts and every [webhook-id, received at]),
// POST /control/reset. Prints one JSON line with the ports when listening.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

const count = Number(process.argv[2] ?? 4);
let verifiers: Webhook[] = [];
let receipts: [string, number][] = [];
let rejected = 0;
/** TCP connections accepted since the last reset: keep-alive shows as far fewer than requests. */
let connections = 0;

const body = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const ports: number[] = [];
for (let i = 0; i < count; i++) {
  // node:http ignores what a handler returns: the request's work runs as a promise of its own, failures logged.
  const server = createServer((req, res) => void receive(req, res).catch((error: unknown) => console.error(error)));
  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await body(req);
    if (req.url?.startsWith('/control/')) {
      if (req.url === '/control/secrets') verifiers = (JSON.parse(text) as string[]).map((s) => new Webhook(s));
      if (req.url === '/control/reset') {
        receipts = [];
        rejected = 0;
        connections = 0;
      }
      res.setHeader('content-type', 'application/json');
      const counts = { received: receipts.length, rejected, connections };
      res.end(
        req.url === '/control/stats'
          ? JSON.stringify(counts)
          : req.url === '/control/receipts'
            ? JSON.stringify({ ...counts, receipts })
            : '{}',
      );
      return;
    }
    const at = Date.now();
    const ok = verifiers.some((v) => {
      try {
        v.verify(text, req.headers as Record<string, string>);
        return true;
      } catch {
        return false;
      }
    });
    if (!ok) {
      rejected++;
      res.statusCode = 400;
      res.end();
      return;
    }
    receipts.push([String(req.headers['webhook-id']), at]);
    res.statusCode = 204;
    res.end();
  }
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports.push((server.address() as AddressInfo).port);
}
console.log(JSON.stringify({ ports }));
