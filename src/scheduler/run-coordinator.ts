import type { RunCoordinator } from 'node-cron';
import type { DataSource } from 'typeorm';

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
    const rows: unknown[] = await this.db.query(
      `INSERT INTO scheduler_runs (key, claimed_by, claimed_at) VALUES ($1, $2, now()) ON CONFLICT (key) DO NOTHING RETURNING key`,
      [key.slice(0, 200), this.replicaId],
    );
    return rows.length === 1;
  }

  async onComplete(key: string): Promise<void> {
    await this.db.query(`UPDATE scheduler_runs SET finished_at = now() WHERE key = $1`, [key.slice(0, 200)]);
  }
}
