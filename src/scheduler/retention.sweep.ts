import type { Deps } from '../deps.ts';
import { IdempotencyRepository } from '../idempotency/idempotency.repository.ts';
import { IDEMPOTENCY_RETENTION_MS } from '../idempotency/idempotency.service.ts';
import { JobRepository } from '../jobs/job.repository.ts';

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
  const attempts = await inBatches(
    deps,
    o.batchSize,
    `DELETE FROM webhook_delivery_attempts WHERE id IN (
      SELECT id FROM webhook_delivery_attempts WHERE attempted_at < $1 LIMIT $2)`,
    new Date(now - o.attemptRetentionMs),
  );
  const events = await inBatches(
    deps,
    o.batchSize,
    `DELETE FROM events WHERE id IN (
      SELECT e.id FROM events e WHERE e.occurred_at < $1
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
      LIMIT $2)`,
    new Date(now - o.eventRetentionMs),
  );
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
  await deps.db.query(`DELETE FROM scheduler_runs WHERE claimed_at < $1`, [new Date(now - 86_400_000)]);
  return { attempts, events, jobs };
}

async function inBatches(deps: Deps, batchSize: number, sql: string, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const [, n]: [unknown, number] = await deps.db.query(sql, [cutoff, batchSize]);
    total += n;
    if (n < batchSize) return total;
  }
}
