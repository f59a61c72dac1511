import { Account } from './account.entity.ts';
import { Application } from './application.entity.ts';
import { ConnectSession } from './connect-session.entity.ts';
import { Connection } from './connection.entity.ts';
import { Event } from './event.entity.ts';
import { IdempotencyKey } from './idempotency-key.entity.ts';
import { Institution } from './institution.entity.ts';
import { Job } from './job.entity.ts';
import { NotificationRule } from './notification-rule.entity.ts';
import { ProviderPause } from './provider-pause.entity.ts';
import { SchedulerRun } from './scheduler-run.entity.ts';
import { Transaction } from './transaction.entity.ts';
import { WebhookDelivery, WebhookDeliveryAttempt } from './webhook-delivery.entity.ts';
import { WebhookEndpoint } from './webhook-endpoint.entity.ts';

export * from './account.entity.ts';
export * from './application.entity.ts';
export * from './connect-session.entity.ts';
export * from './connection.entity.ts';
export * from './event.entity.ts';
export * from './idempotency-key.entity.ts';
export * from './institution.entity.ts';
export * from './job.entity.ts';
export * from './notification-rule.entity.ts';
export * from './provider-pause.entity.ts';
export * from './scheduler-run.entity.ts';
export * from './transaction.entity.ts';
export * from './webhook-delivery.entity.ts';
export * from './webhook-endpoint.entity.ts';
export { sqlList } from './sql.ts';

/** Every table the service owns; the DataSource registers exactly these. */
export const entities = [
  Application,
  Institution,
  Connection,
  Job,
  Account,
  Transaction,
  ProviderPause,
  Event,
  WebhookEndpoint,
  WebhookDelivery,
  WebhookDeliveryAttempt,
  NotificationRule,
  SchedulerRun,
  IdempotencyKey,
  ConnectSession,
];
