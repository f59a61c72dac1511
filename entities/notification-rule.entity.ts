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
import { NOTIFICATION_TRIGGERS, type NotificationTrigger } from './event.entity.ts';
import { sqlList } from './sql.ts';
import { WebhookEndpoint } from './webhook-endpoint.entity.ts';

/** Parameters per trigger (validated per trigger by src/webhooks/notification-rule.schemas.ts). */
export interface NotificationRuleParams {
  accountIds?: string[];
  threshold?: string;
}

/** finAPI's notification rule: a condition on events that sends `notification.<TRIGGER>` to one endpoint. */
@Entity('notification_rules')
@Check('ck_notification_rules_trigger', `"trigger_event" IN (${sqlList(NOTIFICATION_TRIGGERS)})`)
@Index('ix_notification_rules_app', ['appId', 'createdAt', 'id'])
export class NotificationRule {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_notification_rules' })
  id: string;

  @Column({ type: 'uuid' })
  appId: string;

  @Column({ type: 'varchar', length: 64 })
  triggerEvent: NotificationTrigger;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  params: NotificationRuleParams;

  /** Null: every connection of the app. */
  @Column({ type: 'uuid', array: true, nullable: true })
  connectionIds: string[] | null;

  @Column({ type: 'uuid' })
  endpointId: string;

  @ManyToOne(() => WebhookEndpoint, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'endpoint_id', foreignKeyConstraintName: 'fk_notification_rules_endpoint' })
  endpoint?: Relation<WebhookEndpoint>;

  /** false: the notification carries ids only (finAPI's includeDetails). */
  @Column({ type: 'boolean', default: true })
  includeDetails: boolean;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
