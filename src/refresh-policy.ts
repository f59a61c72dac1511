/**
 * The jitter and failure backoff of automatic refreshes: a setting of the worker (src/jobs/job-runner.options.ts
 * holds it with the runner's, src/config.ts takes its defaults from there) that the refresh schedule
 * (src/connections/refresh-schedule.ts) applies. Its own module, below both, so the job queue needs nothing from
 * connections.
 */
export interface RefreshPolicy {
  /** The first schedule after a connect (or a repair) lands up to this fraction of an interval early. */
  jitterFraction: number;
  /** The longest wait after repeated failures (never shorter than the interval itself). */
  failureBackoffMaxMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = { jitterFraction: 0.1, failureBackoffMaxMs: 7 * 86_400_000 };
