import { AccountService } from './accounts/account.service.ts';
import { AppService } from './apps/app.service.ts';
import { ConnectionService } from './connections/connection.service.ts';
import type { Deps } from './deps.ts';
import { DEFAULT_QUOTAS, type Quotas } from './quotas.ts';
import { InstitutionService } from './institutions/institution.service.ts';
import { IdempotencyService } from './idempotency/idempotency.service.ts';
import { JobService } from './jobs/job.service.ts';
import { DeliveryService } from './webhooks/delivery.service.ts';
import type { Sender } from './webhooks/delivery.worker.ts';
import { EndpointService } from './webhooks/endpoint.service.ts';
import { EventService } from './webhooks/event.service.ts';
import { NotificationRuleService } from './webhooks/notification-rule.service.ts';
import type { WebhookSettings } from './webhooks/webhook.settings.ts';

export interface Services {
  apps: AppService;
  institutions: InstitutionService;
  connections: ConnectionService;
  jobs: JobService;
  accounts: AccountService;
  events: EventService;
  endpoints: EndpointService;
  deliveries: DeliveryService;
  notificationRules: NotificationRuleService;
  idempotency: IdempotencyService;
}

/** The webhook side's configuration and the HTTP sender it delivers with. */
export interface WebhookRuntime {
  settings: WebhookSettings;
  sender: Sender;
}

export function createServices(deps: Deps, webhooks: WebhookRuntime, quotas: Quotas = DEFAULT_QUOTAS): Services {
  const endpoints = new EndpointService(deps, webhooks.settings, quotas);
  return {
    apps: new AppService(deps),
    institutions: new InstitutionService(deps),
    connections: new ConnectionService(deps, quotas),
    jobs: new JobService(deps),
    accounts: new AccountService(deps),
    events: new EventService(deps),
    endpoints,
    deliveries: new DeliveryService(deps, endpoints, webhooks.sender, webhooks.settings),
    notificationRules: new NotificationRuleService(deps, quotas),
    idempotency: new IdempotencyService(deps),
  };
}
