import dns from 'node:dns';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import net, { type LookupFunction } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import got, { CancelError, RequestError, TimeoutError } from 'got';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

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

export interface EndpointAddressPolicy {
  allowHttp: boolean;
  allowedAddresses: string[];
}

const USER_AGENT = 'connections-service-webhooks/1';
const RESPONSE_BODY_CHARS = 1024;

/**
 * The HTTP side of webhook delivery: one POST, no retries (the delivery schedule retries), no redirects, a bounded
 * read of the answer, and an SSRF policy enforced when the socket connects.
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

/** Create-time check of an endpoint URL: null when acceptable, else a message naming the problem. */
export function endpointUrlProblem(url: string, policy: EndpointAddressPolicy): string | null {
  const checked = checkUrl(url, compilePolicy(policy));
  return typeof checked === 'string' ? checked : null;
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

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
function parseRetryAfter(header: string | undefined, nowMs: number): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
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

// ---- The address policy ----------------------------------------------------------------------------------------

/** A refusal by our own check; travels through the socket's lookup and got's RequestError as the cause. */
class BlockedAddressError extends Error {
  readonly code = 'ERR_WEBHOOK_ADDRESS_BLOCKED';
}

/** The message of a policy refusal anywhere in error's cause chain, or null when error is something else. */
function blockedReason(error: unknown): string | null {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof BlockedAddressError) return e.message;
    // request-filtering-agent's own refusal: only reached if our check let something through that it catches.
    const agent = /^DNS lookup (\S+?)\(family:.*is not allowed/.exec(e.message);
    if (agent) return `${agent[1]} is refused by the request filter (not allow-listed)`;
  }
  return null;
}

/**
 * A set of IPv4 and IPv6 subnets. net.BlockList matches an IPv4 address against IPv4-mapped IPv6 rules and the other
 * way round; keeping the families in separate lists and checking each address only against its own family matches
 * request-filtering-agent (ipaddr.js), for which ::ffff:127.0.0.1 is not in 127.0.0.0/8.
 */
class AddressSet {
  private readonly v4 = new net.BlockList();
  private readonly v6 = new net.BlockList();
  constructor(cidrs: readonly string[]) {
    for (const entry of cidrs) {
      const cidr = parseCidr(entry);
      if (!cidr) throw new TypeError(`Not an IP address or CIDR: ${JSON.stringify(entry)}`);
      (cidr.family === 'ipv4' ? this.v4 : this.v6).addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }
  has(ip: string): boolean {
    const family = net.isIP(ip);
    if (family === 4) return this.v4.check(ip, 'ipv4');
    if (family === 6) return this.v6.check(ip, 'ipv6');
    return false;
  }
}

/**
 * The addresses that are not public unicast, as request-filtering-agent (ipaddr.js 2.x `range()`) sees them, plus
 * the deprecated IPv4-compatible ::/96. Mirrored here so a refusal can say which kind of address it hit. Order
 * matters only for the label: the first match names the address.
 */
const SPECIAL_RANGES: ReadonlyArray<{ label: string; set: AddressSet }> = (
  [
    ['an unspecified address', ['0.0.0.0/8', '::/128']],
    ['a broadcast address', ['255.255.255.255/32']],
    ['a multicast address', ['224.0.0.0/4', 'ff00::/8']],
    ['a link-local address', ['169.254.0.0/16', 'fe80::/10']],
    ['a loopback address', ['127.0.0.0/8', '::1/128']],
    ['a carrier-grade NAT address', ['100.64.0.0/10']],
    ['a private address', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
    ['a unique-local address', ['fc00::/7']],
    ['an IPv4-mapped address', ['::ffff:0:0/96']],
    ['an IPv4-translated address', ['::ffff:0:0:0/96']],
    ['an IPv4-compatible address', ['::/96']],
    ['a site-local address', ['fec0::/10']],
    ['a discard-only address', ['100::/64']],
    ['a NAT64 address', ['64:ff9b::/96', '64:ff9b:1::/48']],
    ['a 6to4 address', ['2002::/16']],
    ['a Teredo address', ['2001::/32']],
    [
      'a reserved address',
      [
        '192.0.0.0/24',
        '192.0.2.0/24',
        '192.88.99.0/24',
        '198.18.0.0/15',
        '198.51.100.0/24',
        '203.0.113.0/24',
        '240.0.0.0/4',
        '192.175.48.0/24',
        '192.31.196.0/24',
        '192.52.193.0/24',
        '2001::/23',
        '2001:db8::/32',
        '3fff::/20',
        '2001:2::/48',
        '2001:3::/32',
        '2001:4:112::/48',
        '2620:4f:8000::/48',
        '2001:10::/28',
        '2001:20::/28',
        '2001:30::/28',
        '5f00::/16',
      ],
    ],
  ] as const
).map(([label, cidrs]) => ({ label, set: new AddressSet(cidrs) }));

interface CompiledPolicy {
  allowHttp: boolean;
  allowed: AddressSet;
}

function compilePolicy(policy: EndpointAddressPolicy): CompiledPolicy {
  return { allowHttp: policy.allowHttp, allowed: new AddressSet(policy.allowedAddresses) };
}

/** What kind of forbidden address ip is ('a loopback address'), or null when it may be reached. */
function forbiddenKind(ip: string, allowed: AddressSet): string | null {
  if (allowed.has(ip)) return null;
  return SPECIAL_RANGES.find((range) => range.set.has(ip))?.label ?? null;
}

/** The URL to send to, or the problem with it. Host names pass here; their addresses are checked at connect time. */
function checkUrl(raw: string, policy: CompiledPolicy): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the scheme ${url.protocol} is not supported (https is required)`;
  if (url.protocol === 'http:' && !policy.allowHttp) return 'https is required (plain http:// is not allowed)';
  if (url.username || url.password) return 'the URL may not contain a user name or password';
  // The WHATWG parser has already turned 2130706433, 0x7f.1 and the like into dotted quads, and IPv6 into canonical form.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (net.isIP(host)) {
    const kind = forbiddenKind(host, policy.allowed);
    return kind ? `${host} is ${kind} (not allow-listed)` : url;
  }
  const name = host.replace(/\.$/, '');
  if ((name === 'localhost' || name.endsWith('.localhost')) && !policy.allowed.has('127.0.0.1')) {
    return `${host} is a loopback host name (127.0.0.1 is not allow-listed)`;
  }
  return url;
}

/** Wraps a resolver so that a name resolving to any forbidden address fails the connection before it is made. */
function guardedLookup(resolve: LookupFunction, allowed: AddressSet): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) {
        callback(error, address, family);
        return;
      }
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      for (const ip of addresses) {
        const kind = net.isIP(ip) ? forbiddenKind(ip, allowed) : 'not an IP address';
        if (kind) {
          callback(new BlockedAddressError(`${hostname} resolves to ${ip}, ${kind} (not allow-listed)`), address, family);
          return;
        }
      }
      callback(null, address, family);
    });
  };
}

/**
 * The allow-list in the form request-filtering-agent wants. It matches single IPs by string and CIDRs with ipaddr.js,
 * which throws (and the agent logs "Invalid CIDR" on every connection) when a CIDR's family differs from the
 * address's: so single-host CIDRs (/32, /128) become plain canonical IPs. Mixed-family wider CIDRs still warn.
 */
function agentAllowList(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    const cidr = parseCidr(entry);
    if (!cidr) throw new TypeError(`Not an IP address or CIDR: ${JSON.stringify(entry)}`);
    const full = cidr.family === 'ipv4' ? 32 : 128;
    const address = cidr.family === 'ipv6' ? new URL(`http://[${cidr.address}]/`).hostname.slice(1, -1) : cidr.address;
    return cidr.prefix === full ? address : `${address}/${cidr.prefix}`;
  });
}

function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, ...rest] = entry.trim().split('/');
  const version = net.isIP(address);
  if (version === 0 || rest.length > 0) return null;
  const full = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? full : Number(prefixText);
  if (prefix > full) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}
