import type { Deps } from '../deps.ts';
import { JobRepository } from '../jobs/job.repository.ts';
import { DeliveryRepository } from '../webhooks/delivery.repository.ts';

/**
 * Hands back work whose holder died: jobs and deliveries whose lease ran out return to the queue (claims would take
 * them anyway; releasing them makes the state honest and wakes the workers). Returns what was released.
 */
export async function releaseExpiredLeases(deps: Deps): Promise<{ jobs: number; deliveries: number }> {
  const now = deps.clock.now();
  const jobRepository = new JobRepository(deps.db);
  const jobs = await jobRepository.releaseExpired(now);
  const deliveryRepository = new DeliveryRepository(deps.db);
  const deliveries = await deliveryRepository.releaseExpiredLeases(now);
  if (jobs > 0) await jobRepository.notifyQueued();
  if (deliveries > 0) await deliveryRepository.notifyQueued(deps.db);
  return { jobs, deliveries };
}

/**
 * The durable backstop of webhook delivery: when retries are due, wake every delivery worker, whether or not a
 * commit-time NOTIFY reached one (a worker that was down, a lost LISTEN connection).
 */
export async function wakeForDueDeliveries(deps: Deps): Promise<boolean> {
  const deliveries = new DeliveryRepository(deps.db);
  const due = await deliveries.anyDue(deps.clock.now());
  if (due) await deliveries.notifyQueued(deps.db);
  return due;
}
