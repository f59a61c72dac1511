import type { Job } from '../../entities/index.ts';
import type { JobOutcome } from '../observability/metrics.ts';

/** What the runner hands a claimed job's work: who holds it, and whether it still does (the renewal keeps up). */
export interface JobLease {
  workerId: string;
  held: () => boolean;
}

/**
 * The work of one claimed job (src/sync's refresh), injected into the runner so the runner knows no step: returns
 * how the run ended, or null when there was nothing to do. Throws LeaseLost when another worker took the job.
 */
export type JobHandler = (job: Job, lease: JobLease) => Promise<JobOutcome | null>;
