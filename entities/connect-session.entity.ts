import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { Dataset } from './institution.entity.ts';
import { sqlList } from './sql.ts';

/**
 * created: made by the app, not opened yet. in-progress: the user is in the flow, or its job runs. awaiting-user:
 * the job waits for the user (a challenge, the bank's page, a wrong password to type again). Then one of the ends.
 */
export const CONNECT_SESSION_STATUSES = ['created', 'in-progress', 'awaiting-user', 'completed', 'failed', 'expired', 'cancelled'] as const;
export type ConnectSessionStatus = (typeof CONNECT_SESSION_STATUSES)[number];
export const FINISHED_CONNECT_SESSION_STATUSES = [
  'completed',
  'failed',
  'expired',
  'cancelled',
] as const satisfies readonly ConnectSessionStatus[];

/** Where the user is in the hosted pages. */
export const CONNECT_STEPS = ['consent', 'bank', 'sign-in', 'progress', 'done'] as const;
export type ConnectStep = (typeof CONNECT_STEPS)[number];

export interface ConnectSessionError {
  /** consent-denied, invalid-credentials, too-many-attempts, provider-unavailable, … (the job's error code, mostly). */
  code: string;
  message: string;
}

/**
 * One Hosted Connect session: an app's invitation to one of its users to connect a bank (or repair a connection),
 * through the pages the service serves at its URL. The URL carries a secret token; only its hash is kept here,
 * beside a sealed copy so the bank's callback can send the user back to it.
 */
@Entity('connect_sessions')
@Check('ck_connect_sessions_status', `"status" IN (${sqlList(CONNECT_SESSION_STATUSES)})`)
@Check('ck_connect_sessions_step', `"step" IN (${sqlList(CONNECT_STEPS)})`)
@Index('uq_connect_sessions_token', ['tokenHash'], { unique: true })
@Index('ix_connect_sessions_app_created', ['appId', 'createdAt', 'id'])
@Index('ix_connect_sessions_job', ['jobId'], { where: `"job_id" IS NOT NULL` })
export class ConnectSession {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'pk_connect_sessions' })
  id: string;

  @Column({ type: 'uuid' })
  appId: string;

  @Column({ type: 'varchar', length: 255 })
  userId: string;

  /** The institution asked for, or the one the user chose. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  institutionId: string | null;

  /** Repair mode: the connection given; otherwise the one the session created. */
  @Column({ type: 'uuid', nullable: true })
  connectionId: string | null;

  /** Whether the session was opened for an existing connection (repair mode). */
  @Column({ type: 'boolean', default: false })
  repair: boolean;

  @Column({ type: 'uuid', nullable: true })
  jobId: string | null;

  @Column({ type: 'text', array: true, nullable: true })
  datasets: Dataset[] | null;

  @Column({ type: 'varchar', length: 2048, nullable: true })
  redirectUri: string | null;

  @Column({ type: 'integer' })
  consentDays: number;

  /** en or de; null: from the browser's Accept-Language. */
  @Column({ type: 'varchar', length: 8, nullable: true })
  locale: string | null;

  @Column({ type: 'varchar', length: 16, default: 'created' })
  status: ConnectSessionStatus;

  @Column({ type: 'varchar', length: 16, default: 'consent' })
  step: ConnectStep;

  @Column({ type: 'jsonb', nullable: true })
  error: ConnectSessionError | null;

  /** How many more times the user may give wrong credentials (or a wrong code) before the session fails. */
  @Column({ type: 'integer' })
  attemptsLeft: number;

  @Column({ type: 'varchar', length: 64, select: false })
  tokenHash: string;

  /** The URL token, sealed like credentials (bound to the row). */
  @Column({ type: 'bytea', select: false })
  tokenCiphertext: Buffer;

  @Column({ type: 'varchar', length: 32 })
  tokenKeyId: string;

  @Column({ type: 'timestamptz', precision: 3 })
  expiresAt: Date;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  finishedAt: Date | null;
}
