import {
  Check,
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
import { sqlList } from './sql.ts';
import { Connection, type ConnectionError } from './connection.entity.ts';

export const JOB_KINDS = ['create', 'refresh', 'update'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATUSES = ['queued', 'running', 'awaiting-challenge', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** A connection with a job in one of these states is busy: it cannot be updated or deleted. */
export const ACTIVE_JOB_STATUSES = ['queued', 'running', 'awaiting-challenge'] as const satisfies readonly JobStatus[];
/** A job in one of these states is over; retention deletes old ones (each connection's latest is always kept). */
export const FINISHED_JOB_STATUSES = ['succeeded', 'failed'] as const satisfies readonly JobStatus[];

/**
 * Claim order: a job someone is waiting for (a user creating or repairing a connection, a manual refresh, a
 * challenge answer) before a scheduled refresh, whatever the queue holds. Lower runs first.
 */
export const JOB_PRIORITIES = { interactive: 0, scheduled: 10 } as const;
export type JobPriority = (typeof JOB_PRIORITIES)[keyof typeof JOB_PRIORITIES];

export const STEP_TITLES = ['verify-credentials', 'retrieve-accounts', 'retrieve-transactions'] as const;
export type StepTitle = (typeof STEP_TITLES)[number];
/** `interrupted`: the step was running when its worker stopped or died; a later run does it again. */
export const STEP_STATUSES = ['pending', 'in-progress', 'success', 'failed', 'interrupted'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** Basiq's job step. */
export interface JobStep {
  title: StepTitle;
  status: StepStatus;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: ConnectionError | null;
}

export const CHALLENGE_TYPES = ['TEXT', 'DECOUPLED', 'IMAGE', 'REDIRECT'] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];

export interface JobChallenge {
  /** The provider's handle for the challenge. */
  id: string;
  message: string;
  /**
   * TEXT: the user types an answer. DECOUPLED: the user approves elsewhere (the bank's app); the job checks back by
   * itself. REDIRECT: the user signs in on the bank's own page at `redirectUrl` and comes back to the service's
   * callback; the callback's query is the answer.
   */
  type: ChallengeType;
  expiresAt: Date;
  /** REDIRECT only: where to send the user. */
  redirectUrl?: string | null;
}

/**
 * The asynchronous work on a connection. These rows are the queue itself: what users see is what workers claim.
 */
@Entity('jobs')
@Check('ck_jobs_kind', `"kind" IN (${sqlList(JOB_KINDS)})`)
@Check('ck_jobs_status', `"status" IN (${sqlList(JOB_STATUSES)})`)
// At most one job per connection is queued or running: the database enforces it.
@Index('uq_jobs_one_active_per_connection', ['connectionId'], {
  unique: true,
  where: `"status" IN (${sqlList(ACTIVE_JOB_STATUSES)})`,
})
@Index('ix_jobs_claimable', ['priority', 'runAt', 'id'], { where: `"status" = 'queued'` })
@Index('ix_jobs_lease', ['lockedUntil'], { where: `"status" = 'running'` })
@Index('ix_jobs_app_connection', ['appId', 'connectionId', 'createdAt'])
// Retention: finished jobs by when they finished.
@Index('ix_jobs_finished', ['finishedAt'], { where: `"status" IN (${sqlList(FINISHED_JOB_STATUSES)})` })
export class Job {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_jobs' })
  id: string;

  @Column({ type: 'uuid' })
  appId: string;

  @Column({ type: 'uuid' })
  connectionId: string;

  @ManyToOne(() => Connection, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connection_id', foreignKeyConstraintName: 'fk_jobs_connection' })
  connection?: Relation<Connection>;

  @Column({ type: 'varchar', length: 16 })
  kind: JobKind;

  /** The institution's provider, so rate limits and per-provider concurrency apply at claim time. */
  @Column({ type: 'varchar', length: 64 })
  providerKey: string;

  /** The connection's institution (which never changes), so a pause of one institution applies at claim time. */
  @Column({ type: 'varchar', length: 32 })
  institutionId: string;

  /** JOB_PRIORITIES: lower is claimed first. */
  @Column({ type: 'smallint', default: JOB_PRIORITIES.interactive })
  priority: JobPriority;

  @Column({ type: 'varchar', length: 32, default: 'queued' })
  status: JobStatus;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  steps: JobStep[];

  /** Why the job failed, when it did. */
  @Column({ type: 'jsonb', nullable: true })
  error: ConnectionError | null;

  /** Claims of this job so far (every run, whatever its outcome). */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** Transient failures so far; the job fails when they reach the configured bound. */
  @Column({ type: 'integer', default: 0 })
  failures: number;

  /** The provider's challenge while the job is awaiting-challenge (finAPI's multi-step authentication). */
  @Column({ type: 'jsonb', nullable: true })
  challenge: JobChallenge | null;

  /** The user's answer, encrypted like credentials, until the runner hands it to the provider. */
  @Column({ type: 'bytea', nullable: true, select: false })
  challengeResponseCiphertext: Buffer | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  challengeResponseKeyId: string | null;

  /**
   * sha256 of the OAuth `state` the service gave the provider for this run: the callback finds the job by it, and
   * it works once. Never shown.
   */
  @Index('ix_jobs_challenge_state', { where: `"challenge_state_hash" IS NOT NULL` })
  @Column({ type: 'varchar', length: 64, nullable: true, select: false })
  challengeStateHash: string | null;

  /** Not claimable before this time (retry backoff, provider rate limits). */
  @Column({ type: 'timestamptz', precision: 3 })
  runAt: Date;

  @Column({ type: 'varchar', length: 128, nullable: true })
  lockedBy: string | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  lockedUntil: Date | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  startedAt: Date | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  finishedAt: Date | null;
}
