import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  webhookId: string;
  /** The webhook-timestamp header as sent (unix seconds). */
  timestamp: string;
  signature: string;
  body: string;
  /** The parsed body, or null when it is not JSON. */
  json: any;
  /** json.type, or '' when there is none. */
  type: string;
  /** Some secret in `secrets` verified the request with the standardwebhooks library. */
  verified: boolean;
  /** Why verification failed (the library's message), null when verified. */
  problem: string | null;
  receivedAt: number;
  /** The status answered; 0 while a 'hang' is in progress or when the answer never went out. */
  status: number;
}

export type ReceiverAnswer = { status: number; headers?: Record<string, string>; delayMs?: number; body?: string } | 'hang';

export interface WebhookReceiver {
  /** http://127.0.0.1:port/hook */
  readonly url: string;
  readonly port: number;
  /** A request is verified when any of these ('whsec_…') verifies it. */
  secrets: string[];
  /** Every request, verified or not, in arrival order. */
  received: ReceivedWebhook[];
  /** Requests being handled right now (received, not yet answered or torn down), and the most there ever were. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** How to answer a verified request (default 204). Unverified requests are always answered 400. */
  respond: (req: ReceivedWebhook) => ReceiverAnswer;
  /** Polls until predicate(received) holds; rejects after timeoutMs listing what did arrive. */
  waitFor(predicate: (all: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<void>;
  verifiedOfType(type: string): ReceivedWebhook[];
  /** Goes down: closes the listening socket and destroys open connections (hanging requests included). */
  stop(): Promise<void>;
  /** Comes back on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_ANSWER = (): ReceiverAnswer => ({ status: 204 });

/**
 * A real local webhook endpoint for integration tests. It checks signatures with the standardwebhooks library, not
 * with our own signing code, so a test passes only if a third-party consumer would accept what we send. Note that
 * the library also enforces its 5-minute timestamp tolerance against the real time.
 */
export async function startWebhookReceiver(options: { port?: number } = {}): Promise<WebhookReceiver> {
  // A request torn down mid-body (the sender timed out, stop() ran) is simply not recorded.
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  let port = options.port ?? 0;
  let closed = false;
  let inFlight = 0;
  let maxInFlight = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });

  const down = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) {
        server.closeAllConnections();
        resolve();
        return;
      }
      server.close(() => resolve());
      // After close(): the listening socket no longer accepts, and these are all that is left, idle or mid-request.
      server.closeAllConnections();
    });

  const receiver: WebhookReceiver = {
    get url() {
      return `http://127.0.0.1:${port}/hook`;
    },
    get port() {
      return port;
    },
    secrets: [],
    received: [],
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    respond: DEFAULT_ANSWER,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(receiver.received)) {
        if (Date.now() > deadline)
          throw new Error(`webhook receiver: condition not met within ${timeoutMs} ms; ${describe(receiver.received)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    verifiedOfType(type) {
      return receiver.received.filter((r) => r.verified && r.type === type);
    },
    stop: down,
    async start() {
      if (closed) throw new Error('webhook receiver: start() after close()');
      if (!server.listening) await listen();
    },
    async close() {
      closed = true;
      await down();
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => (inFlight -= 1));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = flatten(req.headers);
    const json = parseJson(body);
    const { verified, problem } = verify(receiver.secrets, body, headers);
    const record: ReceivedWebhook = {
      webhookId: headers['webhook-id'] ?? '',
      timestamp: headers['webhook-timestamp'] ?? '',
      signature: headers['webhook-signature'] ?? '',
      body,
      json,
      type: typeof json?.type === 'string' ? json.type : '',
      verified,
      problem,
      receivedAt: Date.now(),
      status: 0,
    };
    receiver.received.push(record);

    let answer: ReceiverAnswer;
    try {
      answer = verified ? receiver.respond(record) : { status: 400, body: problem ?? '' };
    } catch (error) {
      answer = { status: 500, body: `respond() threw: ${String(error)}` };
    }
    if (answer === 'hang') return;
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    // The sender may have given up, or stop() destroyed the connection, while we waited.
    if (res.destroyed) return;
    record.status = answer.status;
    res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
  }

  await listen();
  return receiver;
}

function verify(secrets: string[], body: string, headers: Record<string, string>): { verified: boolean; problem: string | null } {
  if (secrets.length === 0) return { verified: false, problem: 'no secret configured' };
  let problem = 'no secret verified';
  for (const secret of secrets) {
    try {
      // The library strips the whsec_ prefix itself and base64-decodes the rest into the HMAC key.
      new Webhook(secret).verify(body, headers);
      return { verified: true, problem: null };
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
  }
  return { verified: false, problem };
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseJson(body: string): any {
  try {
    return JSON.parse(body);
  } catch {
    return null;
  }
}

function describe(received: ReceivedWebhook[]): string {
  if (received.length === 0) return 'nothing was received';
  const lines = received.map(
    (r, i) =>
      `  #${i + 1} ${r.type || '(no type)'} id=${r.webhookId || '-'} verified=${r.verified}${r.problem ? ` (${r.problem})` : ''} status=${r.status}`,
  );
  return `received ${received.length}:\n${lines.join('\n')}`;
}
