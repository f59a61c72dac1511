import type { RunCoordinator } from 'node-cron';
import type { DataSource } from 'typeorm';
import { RunCoordinatorRepository } from './run-coordinator.repository.ts';

/**
 * node-cron's RunCoordinator on Postgres: for each slot key ("retention:2026-11-21T10:17:00.000Z") the first
 * replica to insert the row runs the tick; the others are told not to. Old keys are pruned by the retention tick.
 */
export class PostgresRunCoordinator implements RunCoordinator {
  constructor(
    private readonly db: DataSource,
    private readonly replicaId: string,
  ) {}

  async shouldRun(key: string): Promise<boolean> {
    return new RunCoordinatorRepository(this.db.manager).claimSlot(key, this.replicaId);
  }

  async onComplete(key: string): Promise<void> {
    await new RunCoordinatorRepository(this.db.manager).markFinished(key);
  }
}
