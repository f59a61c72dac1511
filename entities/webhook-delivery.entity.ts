import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { Event } from './event.entity.ts';
import { sqlList } from './sql.ts';
import { WebhookEndpoint } from './webhook-endpoint.entity.ts';

/**
 * pending: not yet attempted, or due again (`nextAttemptAt`); succeeded: a 2xx; failed: given up on because its
 * endpoint was disabled (resend or recover to try again); dead: every attempt of the retry schedule failed.
 */
export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** Waiting for an attempt (due now, due later, or in flight): claims, the wake-up and the queue depth read these. */
export const WAITING_DELIVERY_STATUSES = ['pending'] as const satisfies readonly DeliveryStatus[];
/** Given up on (endpoint disabled, or the schedule ran out): what recovering an endpoint queues again. */
export const GIVEN_UP_DELIVERY_STATUSES = ['failed', 'dead'] as const satisfies readonly DeliveryStatus[];

/** One event on its way to one endpoint: the durable queue of webhook delivery. */
@Entity('webhook_deliveries')
@Check('ck_webhook_deliveries_status', `"status" IN (${sqlList(DELIVERY_STATUSES)})`)
@Index('uq_webhook_deliveries_event_endpoint', ['eventId', 'endpointId'], { unique: true })
// The claim: per endpoint, what is due, oldest first.
@Index('ix_webhook_deliveries_due', ['endpointId', 'nextAttemptAt'], { where: `"status" = 'pending'` })
@Index('ix_webhook_deliveries_in_flight', ['endpointId', 'lockedUntil'], { where: `"locked_until" IS NOT NULL` })
@Index('ix_webhook_deliveries_app', ['appId', 'createdAt', 'id'])
export class WebhookDelivery {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_webhook_deliveries' })
  id: string;

  @Column({ type: 'uuid' })
  appId: string;

  @Column({ type: 'uuid' })
  eventId: string;

  @ManyToOne(() => Event, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'event_id', foreignKeyConstraintName: 'fk_webhook_deliveries_event' })
  event?: Relation<Event>;

  @Column({ type: 'uuid' })
  endpointId: string;

  @ManyToOne(() => WebhookEndpoint, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'endpoint_id', foreignKeyConstraintName: 'fk_webhook_deliveries_endpoint' })
  endpoint?: Relation<WebhookEndpoint>;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: DeliveryStatus;

  /** Attempts so far (every claim counts, including one whose process died mid-request). */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** `attempts` when the delivery was last (re)sent: the retry schedule counts from here. */
  @Column({ type: 'integer', default: 0 })
  scheduleStart: number;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  nextAttemptAt: Date | null;

  @Column({ type: 'integer', nullable: true })
  lastStatusCode: number | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  lastError: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  lockedBy: string | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  lockedUntil: Date | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  deliveredAt: Date | null;
}

/** One HTTP attempt of a delivery: what came back and how long it took. */
@Entity('webhook_delivery_attempts')
@Index('ix_webhook_delivery_attempts_delivery', ['deliveryId', 'attemptedAt'])
@Index('ix_webhook_delivery_attempts_attempted', ['attemptedAt'])
export class WebhookDeliveryAttempt {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_webhook_delivery_attempts' })
  id: string;

  @Column({ type: 'uuid' })
  deliveryId: string;

  @ManyToOne(() => WebhookDelivery, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'delivery_id', foreignKeyConstraintName: 'fk_webhook_delivery_attempts_delivery' })
  delivery?: Relation<WebhookDelivery>;

  @Column({ type: 'timestamptz', precision: 3 })
  attemptedAt: Date;

  @Column({ type: 'integer', nullable: true })
  statusCode: number | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  error: string | null;

  @Column({ type: 'integer' })
  latencyMs: number;

  @Column({ type: 'varchar', length: 1024, nullable: true })
  responseBody: string | null;
}
