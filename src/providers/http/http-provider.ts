import got, { CancelError, RequestError, TimeoutError, type Response } from 'got';
import { z } from 'zod';
import {
  ChallengeRequired,
  ProviderError,
  type Challenge,
  type Provider,
  type ProviderAccount,
  type ProviderContext,
  type ProviderSession,
  type ProviderTransaction,
} from '../provider.ts';
import {
  CHALLENGE_STATUS,
  CLIENT_ERROR_KINDS,
  RATE_LIMITED_STATUS,
  describeIssues,
  pluginChallengeBodySchema,
  pluginErrorBodySchema,
  pluginRequestSchemas,
  pluginResponseSchemas,
  type ClientErrorKind,
  type DecodedPluginRequest,
  type DecodedPluginResponse,
  type PluginOperation,
  type PluginErrorBody,
  type PluginOperationWithBody,
} from './plugin-protocol.ts';
import { parseRetryAfter } from '../../http/retry-after.ts';
import { Redactor } from './redaction.ts';

export interface HttpProviderOptions {
  /** The plug-in's base URL; calls go to `{baseUrl}/v1/<operation>`. */
  baseUrl: string;
  /** Shared secret sent as `authorization: Bearer <token>`. */
  token?: string;
  /** Until the TCP connection is up. Default 2 s. */
  connectTimeoutMs?: number;
  /** The whole call, connect to last byte of the body. Default 10 s. */
  timeoutMs?: number;
  /** Bodies above this are refused. Default 20 MB. */
  maxResponseBytes?: number;
}

/** Network failures that mean "nobody answered", as opposed to "somebody answered badly". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ETIMEDOUT',
]);

/** When a 429 carries no usable Retry-After. */
export const DEFAULT_RETRY_AFTER_MS = 30_000;

/**
 * The plug-in provider: the Provider interface spoken over HTTP to a separate provider service
 * (docs/plugin-provider-protocol.md). Each call is one HTTP request: got's own retries are off because the job
 * runner already retries transient failures with backoff, and retrying here too would multiply the attempts and
 * hide how long a call really took.
 */
export class HttpProvider implements Provider {
  private readonly base: URL;
  private readonly connectTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: HttpProviderOptions) {
    // Fail at construction, not on the first job, when the institution's provider URL is unusable.
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('HttpProvider: baseUrl must be http(s)');
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.base = base;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxResponseBytes = options.maxResponseBytes ?? 20 * 1024 * 1024;
  }

  async verifyCredentials(ctx: ProviderContext): Promise<ProviderSession> {
    return this.call('verify', ctx, this.context(ctx));
  }

  async answerChallenge(ctx: ProviderContext, challenge: Challenge, response: string): Promise<ProviderSession> {
    return this.call('challenge', ctx, { ...this.context(ctx), challenge, response });
  }

  async listAccounts(ctx: ProviderContext, session: ProviderSession): Promise<ProviderAccount[]> {
    const { accounts } = await this.call('accounts', ctx, { ...this.context(ctx), session });
    assertUniqueIds('accounts', accounts, this.origin);
    return accounts;
  }

  async listTransactions(
    ctx: ProviderContext,
    session: ProviderSession,
    accountId: string,
    since: Date | null,
  ): Promise<ProviderTransaction[]> {
    const { transactions } = await this.call('transactions', ctx, { ...this.context(ctx), session, accountId, since });
    // Rows are upserted by (account, id): another account's rows or a repeated id would corrupt or fail the write.
    if (transactions.some((t) => t.accountId !== accountId))
      throw badResponse('transactions', this.origin, 200, 'a transaction of another account was returned');
    assertUniqueIds('transactions', transactions, this.origin);
    return transactions;
  }

  async revoke(ctx: ProviderContext, session: ProviderSession | null): Promise<void> {
    await this.call('revoke', ctx, { ...this.context(ctx), session });
  }

  /** The base URL without any user:password, for messages. */
  private get origin(): string {
    return `${this.base.origin}${this.base.pathname.replace(/\/$/, '')}`;
  }

  private context(ctx: ProviderContext): DecodedPluginRequest<'verify'> {
    return {
      institutionId: ctx.institution.id,
      connection: { id: ctx.connection.id, reference: ctx.connection.reference, name: ctx.connection.name },
      credentials: ctx.credentials,
      ...(ctx.authorization ? { authorization: ctx.authorization } : {}),
      ...(ctx.consentDays !== undefined ? { consentDays: ctx.consentDays } : {}),
      ...(ctx.userPresent !== undefined ? { userPresent: ctx.userPresent } : {}),
      attempt: ctx.attempt,
      now: ctx.now,
    };
  }

  private async call<Op extends PluginOperationWithBody>(
    op: Op,
    ctx: ProviderContext,
    body: DecodedPluginRequest<Op>,
  ): Promise<DecodedPluginResponse<Op>>;
  private async call(op: 'revoke', ctx: ProviderContext, body: DecodedPluginRequest<'revoke'>): Promise<void>;
  private async call(op: PluginOperation, ctx: ProviderContext, body: unknown): Promise<unknown> {
    // Everything the provider answers is stored or shown somewhere: one redaction step for all of it.
    const redact = this.redactorFor(op, ctx, body);
    let result: unknown;
    try {
      const response = await this.send(op, z.encode(pluginRequestSchemas[op] as z.ZodType, body));
      result = this.interpret(op, response);
    } catch (error) {
      throw redact.thrown(error);
    }
    if (op === 'verify' || op === 'challenge') {
      // The session's token goes back to the provider unchanged (it is never stored); what is stored is redacted.
      const session = result as ProviderSession;
      return { ...session, reference: redact.text(session.reference), providerStatus: redact.text(session.providerStatus) };
    }
    return redact.value(result);
  }

  /**
   * Secrets are the token, a challenge answer and the secret credentials; what a user or a log reads in an error
   * is redacted of every credential value (a login id included).
   */
  private redactorFor(op: PluginOperation, ctx: ProviderContext, body: unknown): Redactor {
    const answer = op === 'challenge' ? [(body as { response: string }).response] : [];
    const secretNames = ctx.secretCredentials ?? Object.keys(ctx.credentials);
    const secrets = [this.options.token ?? '', ...answer, ...secretNames.map((n) => ctx.credentials[n] ?? '')];
    return new Redactor(secrets, [...secrets, ...Object.values(ctx.credentials)]);
  }

  private async send(op: PluginOperation, json: unknown): Promise<Response<string>> {
    let tooLarge = false;
    const request = got.post(new URL(`v1/${op}`, this.base), {
      json,
      headers: {
        accept: 'application/json',
        // No compression: a small compressed body could otherwise inflate past the size bound before we see it.
        'accept-encoding': 'identity',
        ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      },
      responseType: 'text',
      decompress: false,
      timeout: { connect: this.connectTimeoutMs, request: this.timeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
    });
    void request.on('downloadProgress', ({ transferred, total }) => {
      if (transferred > this.maxResponseBytes || (total ?? 0) > this.maxResponseBytes) {
        tooLarge = true;
        request.cancel();
      }
    });
    try {
      return await request;
    } catch (error) {
      throw this.transportError(op, error, tooLarge);
    }
  }

  /** Turns a failure to get an answer into a ProviderError. Never wraps got's error: its options hold the credentials. */
  private transportError(op: PluginOperation, error: unknown, tooLarge: boolean): unknown {
    const where = `${op} at ${this.origin}`;
    if (tooLarge && error instanceof CancelError) {
      return new ProviderError('permanent', `The plug-in provider's answer to ${where} exceeds ${this.maxResponseBytes} bytes.`, {
        code: 'bad-provider-response',
        attributes: { operation: op, maxResponseBytes: this.maxResponseBytes },
      });
    }
    if (error instanceof TimeoutError) {
      const ms = error.event === 'connect' ? this.connectTimeoutMs : this.timeoutMs;
      return new ProviderError('transient', `The plug-in provider did not answer ${where} within ${ms} ms (${error.event}).`, {
        code: 'provider-timeout',
        attributes: { operation: op, event: error.event, timeoutMs: ms },
      });
    }
    if (error instanceof RequestError) {
      const code =
        UNREACHABLE_CODES.has(error.code) || /socket hang up/i.test(error.message) ? 'provider-unreachable' : 'provider-request-failed';
      return new ProviderError('transient', `Could not reach the plug-in provider for ${where} (${error.code}).`, {
        code,
        attributes: { operation: op, errorCode: error.code },
      });
    }
    return error;
  }

  private interpret(op: PluginOperation, response: Response<string>): unknown {
    const status = response.statusCode;
    const where = `${op} at ${this.origin}`;
    if (status >= 200 && status < 300) {
      if (op === 'revoke') return undefined;
      return this.decode(op, status, pluginResponseSchemas[op as PluginOperationWithBody], response.body);
    }
    if (status === CHALLENGE_STATUS) {
      const { challenge } = this.decode(op, status, pluginChallengeBodySchema, response.body);
      throw new ChallengeRequired(challenge);
    }
    if (status === RATE_LIMITED_STATUS) {
      const retryAfterMs = boundedRetryAfter(response.headers['retry-after'], Date.now());
      const scope = errorBody(response.body)?.error.scope;
      throw new ProviderError('rate-limited', `The plug-in provider asked to slow down (HTTP 429) on ${where}.`, {
        code: 'rate-limited',
        retryAfterMs,
        ...(scope ? { scope } : {}),
        attributes: { operation: op, status },
      });
    }
    if (status >= 500) {
      throw new ProviderError('transient', `The plug-in provider is unavailable (HTTP ${status}) on ${where}.`, {
        code: 'provider-unavailable',
        attributes: { operation: op, status },
      });
    }
    if (status === 408) {
      throw new ProviderError('transient', `The plug-in provider timed out (HTTP 408) on ${where}.`, {
        code: 'provider-timeout',
        attributes: { operation: op, status },
      });
    }
    const typed = status >= 400 ? typedError(response.body) : null;
    if (typed) {
      throw new ProviderError(typed.kind, typed.message, { code: typed.code, attributes: typed.attributes ?? {} });
    }
    if (status === 401 || status === 403) {
      // A bare 401/403 (say, from a proxy in front of the plug-in) is about our token, never the user's
      // credentials: asking users to re-enter them would not help.
      throw new ProviderError('permanent', `The plug-in provider refused the service's token (HTTP ${status}) on ${where}.`, {
        code: 'unauthorized',
        attributes: { operation: op, status },
      });
    }
    throw badResponse(op, this.origin, status, `unexpected HTTP ${status}`);
  }

  /**
   * A body that breaks the protocol is `permanent` (code 'bad-provider-response'), not `transient`: it is a bug or
   * a version mismatch in the plug-in, the same request will get the same answer, and retrying with backoff would
   * only delay the failure by the whole retry schedule while hammering the plug-in. Failures that *are* worth
   * retrying never reach here: timeouts, resets and 5xx are decided before any body is read. The next scheduled
   * refresh tries again anyway, so a fixed plug-in heals the connection.
   */
  private decode<S extends z.ZodType>(op: PluginOperation, status: number, schema: S, body: string): z.output<S> {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw badResponse(op, this.origin, status, 'the body is not JSON');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw badResponse(op, this.origin, status, describeIssues(parsed.error));
    return parsed.data;
  }
}

function badResponse(op: PluginOperation, origin: string, status: number, why: string): ProviderError {
  return new ProviderError('permanent', `The plug-in provider's answer to ${op} at ${origin} breaks the protocol: ${why}.`, {
    code: 'bad-provider-response',
    attributes: { operation: op, status },
  });
}

function assertUniqueIds(op: PluginOperation, rows: { id: string }[], origin: string): void {
  const seen = new Set<string>();
  for (const { id } of rows) {
    if (seen.has(id)) throw badResponse(op, origin, 200, `the id ${JSON.stringify(id)} appears twice`);
    seen.add(id);
  }
}

/** An error answer's body, or null when it is not one (on 429 and 5xx a body is optional). */
function errorBody(body: string): PluginErrorBody | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const parsed = pluginErrorBodySchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

/** The typed error of a 4xx body, or null when the body is not one (then the status alone decides). */
function typedError(body: string): (PluginErrorBody['error'] & { kind: ClientErrorKind }) | null {
  const parsed = errorBody(body);
  if (!parsed) return null;
  const { kind } = parsed.error;
  return (CLIENT_ERROR_KINDS as readonly string[]).includes(kind) ? { ...parsed.error, kind: kind as ClientErrorKind } : null;
}

/** The longest pause a provider's Retry-After can ask for (a day); beyond it a job would wait past any use. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * The provider's Retry-After (src/http/retry-after.ts); absent or unreadable gets the default, and anything longer
 * than a day a day (a hostile '99999999999999' would otherwise make a date no column can hold).
 */
function boundedRetryAfter(header: string | undefined, nowMs: number): number {
  const ms = parseRetryAfter(header, nowMs);
  return ms === null ? DEFAULT_RETRY_AFTER_MS : Math.min(MAX_RETRY_AFTER_MS, ms);
}
