import { createHash } from 'node:crypto';
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
import { LARGE_PROFILE, MEDIUM_PROFILE, NORMAL_PROFILE, sandboxAccounts, sandboxTransactions, type SandboxUser } from './sandbox-data.ts';
import { SANDBOX_CODE_PREFIX } from './sandbox-bank.ts';
import {
  SANDBOX_CHALLENGE_ANSWER,
  SANDBOX_DECOUPLED_DELAY_MS,
  SANDBOX_FAILING_TRIES,
  SANDBOX_REDIRECT_INSTITUTIONS,
  sandboxScriptFor,
} from './sandbox-script.ts';

export interface SandboxOptions {
  /** What a rate-limited answer asks the caller to wait. */
  retryAfterMs: number;
  /** Where the sandbox bank's sign-in page is (its /authorize), for the redirect institutions. */
  bankUrl?: string;
  /** How long a challenge stays answerable. */
  challengeTtlMs: number;
  /** How long each call of the `slow` user takes. */
  slowCallMs: number;
}

export const DEFAULT_SANDBOX_OPTIONS: SandboxOptions = { retryAfterMs: 1_000, challengeTtlMs: 5 * 60_000, slowCallMs: 1_000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The built-in sandbox: deterministic data and scripted outcomes (sandbox-script.ts), no network. */
export class SandboxProvider implements Provider {
  constructor(private readonly options: SandboxOptions = DEFAULT_SANDBOX_OPTIONS) {}

  async verifyCredentials(ctx: ProviderContext): Promise<ProviderSession> {
    if (SANDBOX_REDIRECT_INSTITUTIONS.has(ctx.institution.id)) return this.verifyByRedirect(ctx);
    const script = sandboxScriptFor(ctx.credentials, ctx.connection.name);
    await this.slowDown(ctx);
    const firstImport = ctx.connection.reference === null;
    switch (script) {
      case 'invalid':
        throw new ProviderError('invalid-credentials', 'The bank rejected the login ID or password.', { code: 'invalid-credentials' });
      case 'timeout':
        throw new ProviderError('transient', 'The bank did not answer in time.', { code: 'provider-timeout' });
      case 'rate-limited':
        if (ctx.attempt <= SANDBOX_FAILING_TRIES) {
          throw new ProviderError('rate-limited', 'The bank asked us to slow down (HTTP 429).', {
            code: 'rate-limited',
            retryAfterMs: this.options.retryAfterMs,
          });
        }
        break;
      case 'flaky':
        if (ctx.attempt <= SANDBOX_FAILING_TRIES) {
          throw new ProviderError('transient', 'The bank is temporarily unavailable (HTTP 503).', { code: 'provider-unavailable' });
        }
        break;
      case 'consent-expired':
        if (!firstImport)
          throw new ProviderError('consent-expired', 'The consent given at the bank has expired.', { code: 'consent-expired' });
        break;
      case 'revoked':
        if (!firstImport) throw new ProviderError('revoked', 'Access was revoked at the bank.', { code: 'revoked' });
        break;
      case 'outage':
        if (!firstImport)
          throw new ProviderError('transient', 'The bank is down for maintenance (HTTP 503).', { code: 'provider-unavailable' });
        break;
      case 'challenge':
        if (firstImport) {
          throw new ChallengeRequired({
            id: `chl-${ctx.connection.id.slice(0, 8)}-${ctx.attempt}`,
            message: `Enter the one-time code sent to your phone (sandbox: ${SANDBOX_CHALLENGE_ANSWER}).`,
            type: 'TEXT',
            expiresAt: new Date(ctx.now.getTime() + this.options.challengeTtlMs),
          });
        }
        break;
      case 'decoupled':
        if (firstImport) {
          throw new ChallengeRequired({
            id: `dcp-${ctx.connection.id.slice(0, 8)}-${ctx.now.getTime()}`,
            message: 'Open the Sandbox Bank app on your phone and approve this sign-in.',
            type: 'DECOUPLED',
            expiresAt: new Date(ctx.now.getTime() + this.options.challengeTtlMs),
          });
        }
        break;
      default:
        break;
    }
    return this.session(ctx);
  }

  /**
   * A redirect bank: the first import, and any run the user is present for (a renewed consent), sends the user to
   * the bank's page; a scheduled refresh uses the consent already given.
   */
  private verifyByRedirect(ctx: ProviderContext): ProviderSession {
    if (ctx.connection.reference !== null && !ctx.userPresent) return this.session(ctx);
    if (!ctx.authorization || !this.options.bankUrl) {
      throw new ProviderError('permanent', 'This bank signs users in on its own page, and no callback was given.', {
        code: 'redirect-not-configured',
      });
    }
    const url = new URL(`${this.options.bankUrl.replace(/\/$/, '')}/authorize`);
    url.searchParams.set('client_name', 'Connections service sandbox');
    url.searchParams.set('redirect_uri', ctx.authorization.callbackUrl);
    url.searchParams.set('state', ctx.authorization.state);
    if (ctx.consentDays) url.searchParams.set('consent_days', String(ctx.consentDays));
    throw new ChallengeRequired({
      id: `rdr-${ctx.connection.id.slice(0, 8)}-${ctx.attempt}`,
      message: 'Sign in at Sandbox OAuth Bank and approve access.',
      type: 'REDIRECT',
      expiresAt: new Date(ctx.now.getTime() + this.options.challengeTtlMs),
      redirectUrl: url.toString(),
    });
  }

  async answerChallenge(ctx: ProviderContext, challenge: Challenge, response: string): Promise<ProviderSession> {
    if (challenge.type === 'REDIRECT') {
      const back = new URLSearchParams(response);
      if (back.get('error')) throw new ProviderError('consent-denied', 'Access was denied at the bank.', { code: 'consent-denied' });
      if (!back.get('code')?.startsWith(SANDBOX_CODE_PREFIX))
        throw new ProviderError('challenge-failed', 'The bank did not confirm the sign-in.', { code: 'challenge-failed' });
      return this.session(ctx);
    }
    if (challenge.type === 'DECOUPLED') {
      // Approved in the bank's app a few seconds after it asked; until then, still waiting.
      const askedAt = new Date(challenge.expiresAt).getTime() - this.options.challengeTtlMs;
      if (ctx.now.getTime() - askedAt < SANDBOX_DECOUPLED_DELAY_MS) throw new ChallengeRequired(challenge);
      return this.session(ctx);
    }
    if (response.trim() !== SANDBOX_CHALLENGE_ANSWER) {
      throw new ProviderError('challenge-failed', 'The one-time code was not accepted.', { code: 'challenge-failed' });
    }
    return this.session(ctx);
  }

  async listAccounts(ctx: ProviderContext): Promise<ProviderAccount[]> {
    await this.slowDown(ctx);
    return sandboxAccounts(this.user(ctx), ctx.now);
  }

  async listTransactions(
    ctx: ProviderContext,
    _session: ProviderSession,
    accountId: string,
    since: Date | null,
  ): Promise<ProviderTransaction[]> {
    await this.slowDown(ctx);
    return sandboxTransactions(this.user(ctx), accountId, since, ctx.now);
  }

  async revoke(): Promise<void> {}

  private async slowDown(ctx: ProviderContext): Promise<void> {
    if (sandboxScriptFor(ctx.credentials, ctx.connection.name) === 'slow') await sleep(this.options.slowCallMs);
  }

  private user(ctx: ProviderContext): SandboxUser {
    const loginId = ctx.credentials.loginId?.trim() || 'demo';
    const script = sandboxScriptFor(ctx.credentials, ctx.connection.name);
    const profile = script === 'large' ? LARGE_PROFILE : script === 'medium' ? MEDIUM_PROFILE : NORMAL_PROFILE;
    return { institutionId: ctx.institution.id, loginId, profile };
  }

  private session(ctx: ProviderContext): ProviderSession {
    const loginId = ctx.credentials.loginId?.trim() || 'demo';
    const reference =
      ctx.connection.reference ??
      `sbx-conn-${createHash('sha256').update(`${ctx.institution.id}:${ctx.connection.id}`).digest('hex').slice(0, 16)}`;
    return {
      reference,
      providerStatus: 'active',
      // As long as the app asked (Hosted Connect's consentDays); otherwise a year, the most open banking allows.
      consentExpiresAt: new Date(ctx.now.getTime() + (ctx.consentDays ?? 365) * 24 * 3_600_000),
      token: `sbx-session-${reference}`,
      userInfo: {
        name: loginId === 'demo' ? 'Demo User' : loginId,
        email: `${loginId.replace(/[^a-z0-9]/gi, '').toLowerCase() || 'user'}@example.com`,
      },
    };
  }
}
