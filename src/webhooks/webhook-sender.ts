import dns from 'node:dns';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { LookupFunction } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import got, { CancelError, RequestError, TimeoutError } from 'got';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { parseRetryAfter } from '../http/retry-after.ts';
import { agentAllowList, blockedReason, checkUrl, compilePolicy, guardedLookup, type CompiledPolicy } from '../security/address-policy.ts';

export interface WebhookSenderOptions {
  /** Until the TCP (and TLS) connection is up. Callers default to 5 s. */
  connectTimeoutMs: number;
  /** The whole request, connect to the last byte read. Callers default to 15 s. */
  timeoutMs: number;
  /** At most about this many bytes of a response body are read; a longer body is cut short, not a failure. */
  maxResponseBytes: number;
  /** Plain http:// endpoints are allowed (a development switch); otherwise https only. */
  allowHttp: boolean;
  /** IPs or CIDRs that may be reached although loopback, private, link-local, …: e.g. ['127.0.0.1/32', '::1/128']. */
  allowedAddresses: string[];
  /** Replaces dns.lookup; every address it returns still goes through the address policy. For tests. */
  lookup?: LookupFunction;
}

export interface SendOutcome {
  /** The endpoint answered 2xx. */
  ok: boolean;
  /** Null when nothing answered (timeout before the headers, refused, blocked). */
  statusCode: number | null;
  /** Human-readable, for the delivery-attempt record; null when ok. */
  error: string | null;
  latencyMs: number;
  /** From Retry-After (delay-seconds or HTTP-date), on 429 and 503 only. */
  retryAfterMs: number | null;
  /** The first 1024 characters of what was read of the response body. */
  responseBody: string;
  /** Refused by the URL or address policy: no connection to the endpoint was made. */
  blocked: boolean;
}

const USER_AGENT = 'connections-service-webhooks/1';
const RESPONSE_BODY_CHARS = 1024;

/**
 * The HTTP side of webhook delivery: one POST, no retries (the delivery schedule retries), no redirects, a bounded
 * read of the answer, and an SSRF policy (src/security/address-policy.ts) enforced when the socket connects.
 *
 * The policy has two layers. Our own check runs first, on literal IP hosts before any request and on every address a
 * host name resolves to (inside the lookup the socket uses, so a name that re-resolves to 127.0.0.1 between create
 * time and delivery is still caught), and it names the kind of address it refused. Underneath, request-filtering-agent
 * repeats the check in the agents' createConnection, so a code path that bypassed ours would still be refused.
 */
export class WebhookSender {
  private readonly policy: CompiledPolicy;
  private readonly lookup: LookupFunction;
  private readonly agents: { http: RequestFilteringHttpAgent; https: RequestFilteringHttpsAgent };

  constructor(private readonly options: WebhookSenderOptions) {
    this.policy = compilePolicy(options);
    this.lookup = guardedLookup(options.lookup ?? (dns.lookup as LookupFunction), this.policy.allowed);
    // Keep-alive: a pooled socket passed the address check when it connected and stays on that address, so reusing
    // it is as safe as a fresh one, and far cheaper. Idle sockets go after 4 s, before most servers close theirs
    // (Node's default is 5 s); a request that still meets a socket the receiver just closed is sent once more on a
    // fresh connection (see send).
    const agentOptions = { keepAlive: true, timeout: 4_000, allowIPAddressList: agentAllowList(options.allowedAddresses) };
    this.agents = { http: new RequestFilteringHttpAgent(agentOptions), https: new RequestFilteringHttpsAgent(agentOptions) };
  }

  /** POSTs body to url. Never throws: every failure, including a refusal by the policy, is a SendOutcome. */
  async send(url: string, headers: Record<string, string>, body: string): Promise<SendOutcome> {
    const first = await this.attempt(url, headers, body);
    // A pooled socket the receiver closed while idle fails before anything was read: that is not the receiver's
    // answer, so try once more on a new connection (Node's documented advice for keep-alive clients).
    if (first.staleSocket) return (await this.attempt(url, headers, body)).outcome;
    return first.outcome;
  }

  private async attempt(
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ outcome: SendOutcome; staleSocket: boolean }> {
    const started = performance.now();
    let reusedSocket = false;
    const checked = checkUrl(url, this.policy);
    if (typeof checked === 'string') return { outcome: blockedOutcome(checked, started), staleSocket: false };

    // Got's own 'response' event (promise API) comes only after the whole body is read, too late to keep the status
    // of an answer we stop reading: take the status, headers and a preview from the native response instead.
    const seen: { status: number | null; headers: IncomingHttpHeaders } = { status: null, headers: {} };
    const preview = new BodyPreview(RESPONSE_BODY_CHARS);
    let cutShort = false;
    try {
      const request = got.post(checked, {
        body,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          // No compression: a small compressed body could inflate past the read bound.
          'accept-encoding': 'identity',
        },
        agent: this.agents,
        dnsLookup: this.lookup,
        decompress: false,
        timeout: { connect: this.options.connectTimeoutMs, request: this.options.timeoutMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
      });
      void request.on('request', (clientRequest) => {
        clientRequest.once('socket', () => (reusedSocket = clientRequest.reusedSocket));
        clientRequest.once('response', (response: IncomingMessage) => {
          seen.status = response.statusCode ?? null;
          seen.headers = response.headers;
          // Got reads the body with read(), which emits 'data' without switching the stream to flowing mode.
          response.on('data', (chunk: Buffer) => preview.add(chunk));
        });
      });
      void request.on('downloadProgress', ({ transferred }) => {
        if (transferred >= this.options.maxResponseBytes && !cutShort) {
          cutShort = true;
          request.cancel();
        }
      });
      const response = await request;
      return { outcome: answered(response.statusCode, response.headers, preview.text(), started), staleSocket: false };
    } catch (error) {
      if (cutShort && error instanceof CancelError && seen.status !== null) {
        return { outcome: answered(seen.status, seen.headers, preview.text(), started), staleSocket: false };
      }
      const stale =
        reusedSocket && seen.status === null && error instanceof RequestError && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
      return { outcome: this.failed(error, seen.status, preview.text(), started), staleSocket: stale };
    }
  }

  /** Destroys the agents' sockets. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private failed(error: unknown, statusCode: number | null, responseBody: string, started: number): SendOutcome {
    const blocked = blockedReason(error);
    if (blocked) return blockedOutcome(blocked, started);
    return {
      ok: false,
      statusCode,
      error: this.describe(error),
      latencyMs: elapsed(started),
      retryAfterMs: null,
      responseBody,
      blocked: false,
    };
  }

  private describe(error: unknown): string {
    if (error instanceof TimeoutError) {
      return error.event === 'connect'
        ? `timed out after ${this.options.connectTimeoutMs} ms (connect)`
        : `timed out after ${this.options.timeoutMs} ms`;
    }
    if (error instanceof RequestError) return NETWORK_ERRORS[error.code] ?? `${error.code}: ${error.message.trim().split('\n')[0]}`;
    return error instanceof Error ? error.message : String(error);
  }
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed (EAI_AGAIN)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNABORTED: 'connection aborted',
  ETIMEDOUT: 'connection timed out',
  EPROTO: 'TLS handshake failed (EPROTO)',
};

function answered(statusCode: number, headers: IncomingHttpHeaders, responseBody: string, started: number): SendOutcome {
  const ok = statusCode >= 200 && statusCode < 300;
  let error: string | null = null;
  if (statusCode >= 300 && statusCode < 400) error = `redirect (HTTP ${statusCode}) not followed`;
  else if (!ok) error = `HTTP ${statusCode}`;
  const retryAfterMs = statusCode === 429 || statusCode === 503 ? parseRetryAfter(headers['retry-after'], Date.now()) : null;
  return { ok, statusCode, error, latencyMs: elapsed(started), retryAfterMs, responseBody, blocked: false };
}

function blockedOutcome(problem: string, started: number): SendOutcome {
  return {
    ok: false,
    statusCode: null,
    error: `blocked: ${problem}`,
    latencyMs: elapsed(started),
    retryAfterMs: null,
    responseBody: '',
    blocked: true,
  };
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/** The first characters of a body, decoded as UTF-8 across chunk boundaries. */
class BodyPreview {
  private readonly decoder = new StringDecoder('utf8');
  private decoded = '';
  constructor(private readonly chars: number) {}
  add(chunk: Buffer): void {
    if (this.decoded.length < this.chars) this.decoded += this.decoder.write(chunk);
  }
  text(): string {
    return this.decoded.slice(0, this.chars);
  }
}
