import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { ChallengeRequired, ProviderError, type ProviderContext } from '../provider.ts';
import { bankAuthorizePage, bankDecision } from '../sandbox/sandbox-bank.ts';
import { DEFAULT_SANDBOX_OPTIONS, SandboxProvider, type SandboxOptions } from '../sandbox/sandbox.provider.ts';
import {
  CHALLENGE_STATUS,
  CLIENT_ERROR_STATUS,
  PLUGIN_OPERATIONS,
  RATE_LIMITED_STATUS,
  describeIssues,
  pluginChallengeBodySchema,
  pluginRequestSchemas,
  pluginResponseSchemas,
  type DecodedPluginRequest,
  type PluginErrorBody,
  type PluginOperation,
} from './plugin-protocol.ts';

export interface ReferenceProviderServerOptions {
  /** When set, every call must carry `authorization: Bearer <token>`. */
  token?: string;
  sandbox?: Partial<SandboxOptions>;
  /** How long the 'timeout' script keeps a call hanging before its 504. Default 30 s. */
  timeoutDelayMs?: number;
}

export const MAX_REQUEST_BYTES = 1024 * 1024;

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * The reference plug-in provider: the protocol (plugin-protocol.ts) served over the built-in SandboxProvider, so
 * the sandbox's scripted outcomes (sandbox-script.ts) happen over real HTTP. Its faults are real too: the
 * 'timeout' script really hangs, 'flaky' is a real 503, 'rate-limited' a real 429 with Retry-After.
 * Returned not yet listening; see `listen`.
 */
export function createReferenceProviderServer(options: ReferenceProviderServerOptions = {}): Server {
  const timeoutDelayMs = options.timeoutDelayMs ?? 30_000;
  // The sandbox bank's sign-in page is served here too (at /bank), so a redirect institution's user leaves the
  // service for another origin, as with a real bank. Its URL is this server's as the caller reached it.
  const sandboxes = new Map<string, SandboxProvider>();
  const sandboxFor = (host: string) => {
    let sandbox = sandboxes.get(host);
    if (!sandbox) {
      sandbox = new SandboxProvider({ ...DEFAULT_SANDBOX_OPTIONS, bankUrl: `http://${host}/bank`, ...options.sandbox });
      sandboxes.set(host, sandbox);
    }
    return sandbox;
  };

  const operations: { [Op in PluginOperation]: (input: DecodedPluginRequest<Op>, sandbox: SandboxProvider) => Promise<Answer> } = {
    verify: async (input, sandbox) => ok(pluginResponseSchemas.verify, await sandbox.verifyCredentials(contextOf(input))),
    challenge: async (input, sandbox) =>
      ok(pluginResponseSchemas.challenge, await sandbox.answerChallenge(contextOf(input), input.challenge, input.response)),
    accounts: async (input, sandbox) => ok(pluginResponseSchemas.accounts, { accounts: await sandbox.listAccounts(contextOf(input)) }),
    transactions: async (input, sandbox) =>
      ok(pluginResponseSchemas.transactions, {
        transactions: await sandbox.listTransactions(contextOf(input), input.session, input.accountId, input.since),
      }),
    revoke: async (_input, sandbox) => {
      await sandbox.revoke();
      return { status: 204 };
    },
  };

  /** The sandbox's failures as the protocol's HTTP answers, with the faults made real. */
  async function faultAnswer(error: unknown, res: ServerResponse): Promise<Answer> {
    if (error instanceof ChallengeRequired) {
      return { status: CHALLENGE_STATUS, body: z.encode(pluginChallengeBodySchema, { challenge: error.challenge }) };
    }
    if (!(error instanceof ProviderError)) throw error;
    const code = error.options.code ?? error.kind;
    const body = errorBody(error.kind, code, error.message, error.options.attributes);
    switch (error.kind) {
      case 'rate-limited': {
        const seconds = Math.ceil((error.options.retryAfterMs ?? 30_000) / 1000);
        return { status: RATE_LIMITED_STATUS, body, headers: { 'retry-after': String(seconds) } };
      }
      case 'transient':
        if (code === 'provider-timeout') {
          // Hang for real, so the client's own timeout fires first (as with a bank that never answers).
          await delayUnlessClosed(timeoutDelayMs, res);
          return { status: 504, body };
        }
        return { status: 503, body };
      default:
        return { status: CLIENT_ERROR_STATUS[error.kind], body };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<Answer> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/bank/authorize') {
      // The bank's own page, for the user's browser: no token, no JSON.
      if (req.method === 'GET') return bankAuthorizePage(url.searchParams, '/bank/authorize');
      if (req.method === 'POST') return bankDecision(new URLSearchParams((await readBody(req, 16 * 1024)) ?? ''));
      return refuse(405, 'method-not-allowed', 'GET or POST.');
    }
    if (req.method !== 'POST') {
      return { ...refuse(405, 'method-not-allowed', 'Only POST is supported.'), headers: { allow: 'POST' } };
    }
    const op = operationOf(req.url);
    if (!op) return refuse(404, 'not-found', 'No such operation.');
    if (options.token !== undefined && !bearerMatches(req.headers.authorization, options.token)) {
      return { ...refuse(401, 'unauthorized', 'The provider token is missing or wrong.'), headers: { 'www-authenticate': 'Bearer' } };
    }
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return refuse(415, 'unsupported-media-type', 'The body must be application/json.');
    }
    const raw = await readBody(req, MAX_REQUEST_BYTES);
    if (raw === null) {
      return { ...refuse(413, 'payload-too-large', `The body exceeds ${MAX_REQUEST_BYTES} bytes.`), headers: { connection: 'close' } };
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return refuse(400, 'bad-request', 'The body is not JSON.');
    }
    const parsed = pluginRequestSchemas[op].safeParse(json);
    // Issues name paths and rules only, never values: the body holds credentials.
    if (!parsed.success) return refuse(400, 'bad-request', `Invalid ${op} request: ${describeIssues(parsed.error)}`);
    try {
      return await (operations[op] as (input: unknown, sandbox: SandboxProvider) => Promise<Answer>)(
        parsed.data,
        sandboxFor(req.headers.host ?? '127.0.0.1'),
      );
    } catch (error) {
      return faultAnswer(error, res);
    }
  }

  return createServer((req, res) => {
    handle(req, res)
      .catch(() => refuse(500, 'internal', 'The reference provider failed unexpectedly.', 'transient'))
      .then((answer) => write(res, answer))
      .catch(() => res.destroy());
  });
}

/** Starts `server` and resolves with its URL and a `close` that also ends kept-alive and hanging calls. */
export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function contextOf(input: DecodedPluginRequest<'verify'>): ProviderContext {
  return {
    // The plug-in side has no use for the service's own routing fields.
    institution: { id: input.institutionId, providerKey: 'plug-in', providerUrl: null },
    connection: input.connection,
    credentials: input.credentials,
    ...(input.authorization ? { authorization: input.authorization } : {}),
    ...(input.consentDays !== undefined ? { consentDays: input.consentDays } : {}),
    ...(input.userPresent !== undefined ? { userPresent: input.userPresent } : {}),
    attempt: input.attempt,
    now: input.now,
  };
}

function ok<S extends z.ZodType>(schema: S, value: z.output<S>): Answer {
  return { status: 200, body: z.encode(schema, value) };
}

function errorBody(
  kind: ProviderError['kind'],
  code: string,
  message: string,
  attributes?: ProviderError['options']['attributes'],
): PluginErrorBody {
  return { error: { kind, code, message, ...(attributes ? { attributes } : {}) } };
}

function refuse(status: number, code: string, message: string, kind: ProviderError['kind'] = 'permanent'): Answer {
  return { status, body: errorBody(kind, code, message) };
}

function operationOf(url: string | undefined): PluginOperation | null {
  const match = /^\/v1\/([a-z]+)\/?(?:\?.*)?$/.exec(url ?? '');
  const name = match?.[1];
  return name && (PLUGIN_OPERATIONS as readonly string[]).includes(name) ? (name as PluginOperation) : null;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  // Compare digests, so the comparison takes the same time whatever the lengths.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}

/** The body as text, or null once it passes `limit` bytes (the rest is drained unread; the answer closes the socket). */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd).off('error', reject);
      req.resume();
      resolve(null);
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

function delayUnlessClosed(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}

function write(res: ServerResponse, answer: Answer): void {
  // The caller may have given up (its timeout fired) while we were hanging.
  if (res.destroyed || res.writableEnded) return;
  // The bank's page is a body of its own type (HTML); everything else is the protocol's JSON.
  if (typeof answer.body === 'string' && answer.headers?.['content-type']) {
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) }).end(answer.body);
    return;
  }
  const body = answer.body === undefined ? undefined : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...answer.headers,
    ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }),
  });
  res.end(body);
}
