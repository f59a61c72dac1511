import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A provider that answered "slow down" (429 + Retry-After): no worker, in any process, claims its jobs before
 * `pausedUntil`. Shared through the database so every replica honours it.
 */
@Entity('provider_pauses')
export class ProviderPause {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'pk_provider_pauses' })
  providerKey: string;

  @Column({ type: 'timestamptz', precision: 3 })
  pausedUntil: Date;

  @Column({ type: 'varchar', length: 500, nullable: true })
  reason: string | null;
}
