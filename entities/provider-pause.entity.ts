import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * What a provider said to slow down (429 + Retry-After): no worker, in any process, claims a job in that scope
 * before `pausedUntil`. Shared through the database so every replica honours it. The scope is as narrow as the
 * provider said: one institution (`institution:<id>`, the default) or all of a provider's (`provider:<key>`); a
 * limit on one connection pauses only that connection's job, and needs no row.
 */
@Entity('provider_pauses')
export class ProviderPause {
  @PrimaryColumn({ type: 'varchar', length: 100, primaryKeyConstraintName: 'pk_provider_pauses' })
  scope: string;

  @Column({ type: 'timestamptz', precision: 3 })
  pausedUntil: Date;

  @Column({ type: 'varchar', length: 500, nullable: true })
  reason: string | null;
}
