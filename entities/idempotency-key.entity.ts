import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { sqlList } from './sql.ts';

export const IDEMPOTENCY_STATUSES = ['in-progress', 'completed'] as const;
export type IdempotencyStatus = (typeof IDEMPOTENCY_STATUSES)[number];

/**
 * An Idempotency-Key an app sent with a mutation, and the answer it got: the same key with the same request within
 * the retention (24 h) gets that answer again instead of doing the work twice.
 */
@Entity('idempotency_keys')
@Check('ck_idempotency_keys_status', `"status" IN (${sqlList(IDEMPOTENCY_STATUSES)})`)
@Index('ix_idempotency_keys_created', ['createdAt'])
export class IdempotencyKey {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'pk_idempotency_keys' })
  appId: string;

  @PrimaryColumn({ type: 'varchar', length: 255, primaryKeyConstraintName: 'pk_idempotency_keys' })
  key: string;

  /** The procedure and a sha256 of its input: the same key for another request is refused. */
  @Column({ type: 'varchar', length: 100 })
  procedure: string;

  @Column({ type: 'varchar', length: 64 })
  requestHash: string;

  @Column({ type: 'varchar', length: 16 })
  status: IdempotencyStatus;

  /**
   * The answer, as superjson writes it (Dates stay Dates on replay), encrypted like credentials: some answers
   * hold a secret (a new endpoint's signing secret).
   */
  @Column({ type: 'bytea', nullable: true })
  responseCiphertext: Buffer | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  responseKeyId: string | null;

  @Column({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  /** While in progress: after this, the request is taken to have been abandoned (its process died). */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  lockedUntil: Date | null;
}
