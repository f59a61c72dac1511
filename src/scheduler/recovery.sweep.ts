import type { Deps } from '../deps.ts';
import { JobRepository } from '../jobs/job.repository.ts';
import { DELIVERIES_CHANNEL } from '../webhooks/event.recorder.ts';

/**
 * Hands back work whose holder died: jobs and deliveries whose lease ran out return to the queue (claims would take
 * them anyway; releasing them makes the state honest and wakes the workers). Returns what was released.
 */
export async function releaseExpiredLeases(deps: Deps): Promise<{ jobs: number; deliveries: number }> {
  const now = deps.clock.now();
  const jobRepository = new JobRepository(deps.db);
  const jobs = await jobRepository.releaseExpired(now);
  const [, deliveries]: [unknown, number] = await deps.db.query(
    `UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL
     WHERE id IN (SELECT id FROM webhook_deliveries WHERE locked_until < $1 FOR UPDATE SKIP LOCKED)`,
    [now],
  );
  if (jobs > 0) await jobRepository.notifyQueued();
  if (deliveries > 0) await deps.db.query(`SELECT pg_notify($1, '')`, [DELIVERIES_CHANNEL]);
  return { jobs, deliveries };
}

/**
 * The durable backstop of webhook delivery: when retries are due, wake every delivery worker, whether or not a
 * commit-time NOTIFY reached one (a worker that was down, a lost LISTEN connection).
 */
export async function wakeForDueDeliveries(deps: Deps): Promise<boolean> {
  const [row]: { due: boolean }[] = await deps.db.query(
    `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
                      AND (locked_until IS NULL OR locked_until < $1)) AS due`,
    [deps.clock.now()],
  );
  if (row?.due) await deps.db.query(`SELECT pg_notify($1, '')`, [DELIVERIES_CHANNEL]);
  return row?.due ?? false;
}
