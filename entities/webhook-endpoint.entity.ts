import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  type Relation,
} from 'typeorm';
import { Application } from './application.entity.ts';

/** Where an app wants its events POSTed, and which ones. */
@Entity('webhook_endpoints')
@Index('ix_webhook_endpoints_app', ['appId', 'createdAt', 'id'])
export class WebhookEndpoint {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_webhook_endpoints' })
  id: string;

  @Column({ type: 'uuid' })
  appId: string;

  @ManyToOne(() => Application, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'app_id', foreignKeyConstraintName: 'fk_webhook_endpoints_app' })
  app?: Relation<Application>;

  @Column({ type: 'varchar', length: 2048 })
  url: string;

  @Column({ type: 'varchar', length: 500, nullable: true })
  description: string | null;

  /** Null: every event type. Entries are types or `prefix.*`. */
  @Column({ type: 'text', array: true, nullable: true })
  eventTypes: string[] | null;

  /** Null: every connection. Events without a connection (endpoint.disabled) are not filtered by it. */
  @Column({ type: 'uuid', array: true, nullable: true })
  connectionIds: string[] | null;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  /** Why it was disabled, when the service did it (HTTP 410, failing for too long). */
  @Column({ type: 'varchar', length: 500, nullable: true })
  disabledReason: string | null;

  /** The signing secret (whsec_…), encrypted like credentials: the service must sign with it, so it is not hashed. */
  @Column({ type: 'bytea', select: false })
  secretCiphertext: Buffer;

  @Column({ type: 'varchar', length: 32 })
  secretKeyId: string;

  /** After a rotation the old secret also signs until `previousSecretExpiresAt`. */
  @Column({ type: 'bytea', nullable: true, select: false })
  previousSecretCiphertext: Buffer | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  previousSecretKeyId: string | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  previousSecretExpiresAt: Date | null;

  /** The first failure since the last success; an endpoint failing for long enough is disabled. */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  failingSince: Date | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  lastSuccessAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
