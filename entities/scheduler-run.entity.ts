import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One row per scheduled slot that must run once across all replicas (node-cron's RunCoordinator keys): the replica
 * that inserts the row runs the tick.
 */
@Entity('scheduler_runs')
@Index('ix_scheduler_runs_claimed', ['claimedAt'])
export class SchedulerRun {
  @PrimaryColumn({ type: 'varchar', length: 200, primaryKeyConstraintName: 'pk_scheduler_runs' })
  key: string;

  @Column({ type: 'varchar', length: 128 })
  claimedBy: string;

  @Column({ type: 'timestamptz', precision: 3 })
  claimedAt: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  finishedAt: Date | null;
}
