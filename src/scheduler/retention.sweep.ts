import type { Deps } from '../deps.ts';
import { IdempotencyRepository } from '../idempotency/idempotency.repository.ts';
import { IDEMPOTENCY_RETENTION_MS } from '../idempotency/idempotency.service.ts';
import { JobRepository } from '../jobs/job.repository.ts';
import { DeliveryRepository } from '../webhooks/delivery.repository.ts';
import { RunCoordinatorRepository } from './run-coordinator.repository.ts';

export interface RetentionOptions {
  eventRetentionMs: number;
  attemptRetentionMs: number;
  jobRetentionMs: number;
  batchSize: number;
}

/**
 * Deletes old delivery attempts, then old events (with their finished deliveries), then old finished jobs, in
 * batches so no statement holds many locks for long. An event with a delivery still pending is kept until it
 * settles; a connection's latest job is always kept.
 */
export async function pruneOldRecords(deps: Deps, o: RetentionOptions): Promise<{ attempts: number; events: number; jobs: number }> {
  const now = deps.clock.now().getTime();
  const deliveries = new DeliveryRepository(deps.db);
  const attempts = await inBatches(o.batchSize, (n) => deliveries.deleteAttemptsBefore(new Date(now - o.attemptRetentionMs), n));
  const events = await inBatches(o.batchSize, (n) => deliveries.deleteSettledEventsBefore(new Date(now - o.eventRetentionMs), n));
  const jobRepository = new JobRepository(deps.db);
  const jobCutoff = new Date(now - o.jobRetentionMs);
  let jobs = 0;
  for (;;) {
    const n = await jobRepository.deleteFinishedBefore(jobCutoff, o.batchSize);
    jobs += n;
    if (n < o.batchSize) break;
  }
  // Idempotency keys are remembered for a day.
  const keys = new IdempotencyRepository(deps.db);
  while ((await keys.deleteCreatedBefore(new Date(now - IDEMPOTENCY_RETENTION_MS), o.batchSize)) === o.batchSize);
  // Run-coordination keys only matter for the slot they name.
  await new RunCoordinatorRepository(deps.db.manager).deleteClaimedBefore(new Date(now - 86_400_000));
  return { attempts, events, jobs };
}

/** Runs a bounded delete until it deletes less than a batch; returns the total. */
async function inBatches(batchSize: number, deleteBatch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteBatch(batchSize);
    total += n;
    if (n < batchSize) return total;
  }
}
