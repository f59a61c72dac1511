import type { ConnectionError } from '../../entities/index.ts';
import { ProviderError, type RateLimitScope } from '../providers/provider.ts';

/**
 * What a failure means for the connection beyond "the data is old": decided here, with the error, and turned into
 * the connection's status by its lifecycle (src/connections/connection.lifecycle.ts).
 */
export type FailureEffect =
  /** A technical failure: retrying later may work. */
  | 'none'
  /** New credentials are needed (invalid credentials, a failed or unanswered challenge). */
  | 'needs-credentials'
  /** The consent has lapsed: status EXPIRED. */
  | 'consent-expired'
  /** Access was withdrawn at the provider: status DISCONNECTED. */
  | 'revoked';

/** What the runner does with something a provider threw. The one place provider errors become connection errors. */
export type FailureDecision =
  | { action: 'rate-limited'; retryAfterMs: number; scope: RateLimitScope; error: ConnectionError }
  | { action: 'retry'; error: ConnectionError }
  | { action: 'fail'; error: ConnectionError; effect: FailureEffect };

const providerError = (category: ConnectionError['category'], e: ProviderError, code: string): ConnectionError => ({
  category,
  origin: 'provider',
  code,
  message: e.message,
  attributes: e.options.attributes ?? {},
});

export function decideFailure(thrown: unknown): FailureDecision {
  if (!(thrown instanceof ProviderError)) {
    // Our own fault or an unknown one: retry (it may be a lost database connection), and say nothing internal.
    return {
      action: 'retry',
      error: {
        category: 'technical',
        origin: 'platform',
        code: 'internal',
        message: 'An internal error interrupted the refresh.',
        attributes: {},
      },
    };
  }
  const e = thrown;
  switch (e.kind) {
    case 'rate-limited':
      return {
        action: 'rate-limited',
        retryAfterMs: e.options.retryAfterMs ?? 30_000,
        scope: e.options.scope ?? 'institution',
        error: providerError('technical', e, 'rate-limited'),
      };
    case 'transient':
      return { action: 'retry', error: providerError('technical', e, e.options.code ?? 'provider-unavailable') };
    case 'invalid-credentials':
      return { action: 'fail', effect: 'needs-credentials', error: providerError('functional', e, 'invalid-credentials') };
    case 'challenge-failed':
      return { action: 'fail', effect: 'needs-credentials', error: providerError('functional', e, 'challenge-failed') };
    case 'consent-expired':
      return { action: 'fail', effect: 'consent-expired', error: providerError('functional', e, 'consent-expired') };
    case 'revoked':
      return { action: 'fail', effect: 'revoked', error: providerError('functional', e, 'revoked') };
    case 'consent-denied':
      // The user said no at the bank: only the user can change that, by trying again.
      return {
        action: 'fail',
        effect: 'needs-credentials',
        error: { ...providerError('functional', e, 'consent-denied'), origin: 'customer' },
      };
    case 'permanent':
      return { action: 'fail', effect: 'none', error: providerError('technical', e, e.options.code ?? 'provider-error') };
  }
}

/** Retries exhausted: the last transient error becomes the job's failure. */
export const exhausted = (error: ConnectionError, failures: number): ConnectionError => ({
  ...error,
  attributes: { ...error.attributes, failures },
});

export const CHALLENGE_EXPIRED: ConnectionError = {
  category: 'functional',
  origin: 'customer',
  code: 'challenge-expired',
  message: 'The authentication challenge was not answered in time.',
  attributes: {},
};

export const CONSENT_LAPSED: ConnectionError = {
  category: 'functional',
  origin: 'provider',
  code: 'consent-expired',
  message: 'The consent given at the institution has expired; the user must renew it.',
  attributes: {},
};

/** Exponential backoff with full jitter, capped. `failures` counts from 1. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
