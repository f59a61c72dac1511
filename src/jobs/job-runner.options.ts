import { DEFAULT_REFRESH_POLICY, type RefreshPolicy } from '../refresh-policy.ts';

/** How a job runner works. The defaults live here once: src/config.ts takes its environment defaults from them. */
export interface JobRunnerOptions {
  /** Jobs this process runs at once. */
  concurrency: number;
  /** Jobs of one provider this process runs at once. */
  perProviderConcurrency: number;
  /** How long a claim lasts without renewal; a dead worker's jobs are taken over after this. */
  leaseMs: number;
  /** Poll interval when no notification arrives. */
  pollMs: number;
  /** Transient failures before a job fails. */
  maxFailures: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How far back a refresh re-reads transactions before the last success (pending ones post late). */
  transactionOverlapMs: number;
  /** Jitter and failure backoff of automatic refreshes. */
  refreshPolicy: RefreshPolicy;
  /** Where a redirect institution's bank sends the user back (the service's /connect/callback); null: no redirects. */
  callbackUrl: string | null;
  workerId?: string;
}

export const DEFAULT_RUNNER_OPTIONS: JobRunnerOptions = {
  concurrency: 4,
  perProviderConcurrency: 4,
  leaseMs: 30_000,
  pollMs: 1_000,
  maxFailures: 5,
  backoffBaseMs: 2_000,
  backoffMaxMs: 300_000,
  transactionOverlapMs: 7 * 24 * 3_600_000,
  refreshPolicy: DEFAULT_REFRESH_POLICY,
  callbackUrl: null,
};
