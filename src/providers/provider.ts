/**
 * The one interface every data provider implements, built-in or plug-in. The job runner knows only this.
 * Providers signal failure by throwing ProviderError (or ChallengeRequired); anything else thrown counts as transient.
 */
export interface ProviderContext {
  institution: { id: string; providerKey: string; providerUrl: string | null };
  connection: { id: string; reference: string | null; name: string | null };
  /** Decrypted for this call only; never logged, never stored by a provider. */
  credentials: Record<string, string>;
  /**
   * Which of `credentials` are secrets (passwords, codes), by the institution's credential fields. What a provider
   * returns is redacted of these; its error messages of every credential. Absent: all of them are secrets.
   */
  secretCredentials?: readonly string[];
  /**
   * For a provider that sends the user to the bank's own page (a REDIRECT challenge): where the bank must send the
   * user back (the service's callback), and the `state` to give it, which comes back with the user and is checked
   * by the service. Fresh for every run of the job.
   */
  authorization?: { callbackUrl: string; state: string };
  /** How long the consent the user gives should last, when the app asked (null: the provider's default). */
  consentDays?: number | null;
  /**
   * The user is there (a create, or an update with new credentials or a renewed consent), not a scheduled
   * refresh: a redirect bank asks them to sign in again now, rather than failing for want of a fresh consent.
   */
  userPresent?: boolean;
  /** 1 for the first run of this job, counting every claim of it. */
  attempt: number;
  now: Date;
}

export interface ProviderSession {
  /** The provider's id for the connection (seed 001's `reference`). */
  reference: string;
  /** The provider's own word for the connection's status. */
  providerStatus: string;
  consentExpiresAt: Date | null;
  /** Opaque to the service; handed back to the provider on the following calls of the same job run. */
  token: string;
  userInfo: ProviderUserInfo | null;
}

export interface ProviderUserInfo {
  name: string;
  email: string | null;
}

export const ACCOUNT_TYPES = ['transaction', 'savings', 'credit-card', 'loan', 'mortgage'] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

export interface ProviderAccount {
  id: string;
  name: string;
  type: AccountType;
  currency: string;
  /** Exact decimal strings, never floats. */
  balance: string;
  availableBalance: string | null;
}

export interface ProviderTransaction {
  id: string;
  accountId: string;
  /** Exact decimal string, negative for debits. */
  amount: string;
  currency: string;
  description: string;
  bookedAt: Date;
  status: 'pending' | 'posted';
}

export interface Challenge {
  /** The provider's handle for this challenge. */
  id: string;
  message: string;
  /**
   * TEXT: answered with what the user types. DECOUPLED: the user approves elsewhere; the service asks again
   * (answerChallenge with an empty answer) until the provider says yes or no. REDIRECT: the user goes to
   * `redirectUrl`; answered with the query the bank sent to the callback (`code=…&state=…`).
   */
  type: 'TEXT' | 'DECOUPLED' | 'IMAGE' | 'REDIRECT';
  expiresAt: Date;
  /** REDIRECT: the bank's authorisation page, with the callback and `state` in it. */
  redirectUrl?: string | null;
}

export interface Provider {
  verifyCredentials(ctx: ProviderContext): Promise<ProviderSession>;
  answerChallenge(ctx: ProviderContext, challenge: Challenge, response: string): Promise<ProviderSession>;
  listAccounts(ctx: ProviderContext, session: ProviderSession): Promise<ProviderAccount[]>;
  /** Transactions booked at or after `since` (null: as far back as the provider goes). */
  listTransactions(ctx: ProviderContext, session: ProviderSession, accountId: string, since: Date | null): Promise<ProviderTransaction[]>;
  revoke(ctx: ProviderContext, session: ProviderSession | null): Promise<void>;
}

export const PROVIDER_ERROR_KINDS = [
  /** The user must give new credentials. */
  'invalid-credentials',
  /** The answer to a challenge was wrong. */
  'challenge-failed',
  /** The user's consent at the data holder has lapsed. */
  'consent-expired',
  /** The user (or the data holder) withdrew access. */
  'revoked',
  /** The user refused consent at the bank (Deny on its page). */
  'consent-denied',
  /** Slow down: retry after `retryAfterMs`; never the connection's fault. */
  'rate-limited',
  /** Timeouts, 5xx, resets: worth retrying. */
  'transient',
  /** Anything else the provider says will not get better by retrying. */
  'permanent',
] as const;
export type ProviderErrorKind = (typeof PROVIDER_ERROR_KINDS)[number];

/**
 * What a rate limit covers: only this connection (its job waits), the institution (the default: no job of it is
 * claimed until the limit passes), or every institution the provider serves.
 */
export const RATE_LIMIT_SCOPES = ['connection', 'institution', 'provider'] as const;
export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly options: {
      code?: string;
      retryAfterMs?: number;
      /** For rate-limited: what is limited (default: the institution). */
      scope?: RateLimitScope;
      attributes?: Record<string, string | number | boolean | null>;
    } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** The data holder wants the user to answer a challenge before it goes on (finAPI's HTTP 510). */
export class ChallengeRequired extends Error {
  constructor(readonly challenge: Challenge) {
    super(`challenge required: ${challenge.message}`);
    this.name = 'ChallengeRequired';
  }
}
