import type { DataSource } from 'typeorm';
import { ConnectionRepository } from './connections/connection.repository.ts';
import { JobRepository } from './jobs/job.repository.ts';
import type { ClusterReadings } from './observability/metrics.ts';
import { DeliveryRepository } from './webhooks/delivery.repository.ts';

/**
 * The metrics' cluster-wide readings, each the owning repository's statement. Wired here, at the composition root
 * (bootstrap and the tests' service), so that observability/ imports no domain folder and none imports it back.
 */
export function clusterReadings(db: DataSource): ClusterReadings {
  return {
    ping: () => db.query('SELECT 1'),
    activeJobsByStatus: () => new JobRepository(db).countActiveByStatus(),
    waitingDeliveriesByState: () => new DeliveryRepository(db).waitingByState(),
    oldestRefreshDue: (now) => new ConnectionRepository(db.manager).oldestRefreshDue(now),
  };
}
