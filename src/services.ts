import { AccountService } from './accounts/account.service.ts';
import { AppService } from './apps/app.service.ts';
import { ConnectionService } from './connections/connection.service.ts';
import type { Deps } from './deps.ts';
import { DEFAULT_QUOTAS, type Quotas } from './quotas.ts';
import { InstitutionService } from './institutions/institution.service.ts';
import { ConnectSessionService } from './connect/connect-session.service.ts';
import { DEFAULT_CONNECT_SETTINGS, type ConnectSettings } from './connect/connect-settings.ts';
import { JobService } from './connect/job.service.ts';
import { IdempotencyService } from './idempotency/idempotency.service.ts';
import { ownedResources } from './owned-resources.ts';
import { DeliveryService } from './webhooks/delivery.service.ts';
import type { Sender } from './webhooks/delivery.types.ts';
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
  connectSessions: ConnectSessionService;
}

/** The webhook side's configuration and the HTTP sender it delivers with. */
export interface WebhookRuntime {
  settings: WebhookSettings;
  sender: Sender;
}

export function createServices(
  deps: Deps,
  webhooks: WebhookRuntime,
  quotas: Quotas = DEFAULT_QUOTAS,
  connect: ConnectSettings = DEFAULT_CONNECT_SETTINGS,
): Services {
  const endpoints = new EndpointService(deps, webhooks.settings, ownedResources, quotas);
  const apps = new AppService(deps);
  const connections = new ConnectionService(deps, quotas);
  const jobs = new JobService(deps);
  return {
    apps,
    institutions: new InstitutionService(deps),
    connections,
    jobs,
    accounts: new AccountService(deps),
    events: new EventService(deps),
    endpoints,
    deliveries: new DeliveryService(deps, endpoints, webhooks.sender, webhooks.settings),
    notificationRules: new NotificationRuleService(deps, ownedResources, quotas),
    idempotency: new IdempotencyService(deps),
    connectSessions: new ConnectSessionService(deps, apps, connections, jobs, connect, quotas),
  };
}
