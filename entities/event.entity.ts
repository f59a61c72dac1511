import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** What apps can subscribe to. `notification.<TRIGGER>` events come from notification rules. */
export const EVENT_TYPES = [
  'connection.created',
  'connection.status_changed',
  'connection.state_changed',
  'connection.error',
  'connection.repaired',
  'connection.deleted',
  'connection.consent_expiring',
  'job.completed',
  'job.failed',
  'job.challenge_required',
  'accounts.new',
  'account.balance_changed',
  'transactions.new',
  'endpoint.disabled',
  'webhook.test',
  'connect_session.completed',
  'connect_session.failed',
] as const;
export type StreamEventType = (typeof EVENT_TYPES)[number];

/** finAPI's notification rule triggers. */
export const NOTIFICATION_TRIGGERS = [
  'NEW_ACCOUNT_BALANCE',
  'NEW_TRANSACTIONS',
  'BANK_LOGIN_ERROR',
  'LOW_ACCOUNT_BALANCE',
  'HIGH_TRANSACTION_AMOUNT',
  'CONNECTION_STATUS_CHANGED',
] as const;
export type NotificationTrigger = (typeof NOTIFICATION_TRIGGERS)[number];

export type EventType = StreamEventType | `notification.${NotificationTrigger}`;

/**
 * Something that happened to an app's connections, written in the same transaction as the change itself. Events
 * outlive their connection (no foreign key): `connection.deleted` must still be readable and deliverable.
 */
@Entity('events')
@Index('ix_events_app_position', ['appId', 'position'])
@Index('ix_events_app_connection_sequence', ['appId', 'connectionId', 'sequence'])
@Index('ix_events_occurred', ['occurredAt'])
export class Event {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_events' })
  id: string;

  /** Insertion order across the table: the cursor of events.list. */
  @Column({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS' })
  position: string;

  @Column({ type: 'uuid' })
  appId: string;

  @Column({ type: 'varchar', length: 64 })
  type: EventType;

  @Column({ type: 'varchar', length: 255, nullable: true })
  userId: string | null;

  @Column({ type: 'uuid', nullable: true })
  connectionId: string | null;

  /** 1, 2, 3 … per connection, without gaps: a subscriber that sees a gap knows it missed something. */
  @Column({ type: 'integer', nullable: true })
  sequence: number | null;

  /** Delivered only to this endpoint (webhook.test, notification rules), not fanned out by subscription. */
  @Column({ type: 'uuid', nullable: true })
  endpointId: string | null;

  @Column({ type: 'timestamptz', precision: 3 })
  occurredAt: Date;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  data: Record<string, unknown>;
}
