import type { EntityManager } from 'typeorm';
import type { NotificationRule } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppError, requireAllFound } from '../errors.ts';
import { DEFAULT_QUOTAS, requireRoomFor, type Quotas } from '../quotas.ts';
import { EndpointRepository } from './endpoint.repository.ts';
import { NotificationRuleRepository } from './notification-rule.repository.ts';
import type { OwnedResources } from './owned-resources.ts';
import { parseRuleParams, type CreateNotificationRuleInput, type UpdateNotificationRuleInput } from './webhook.schemas.ts';

export interface NotificationRuleView {
  id: string;
  triggerEvent: NotificationRule['triggerEvent'];
  params: NotificationRule['params'];
  connectionIds: string[] | null;
  endpointId: string;
  includeDetails: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const present = (r: NotificationRule): NotificationRuleView => ({
  id: r.id,
  triggerEvent: r.triggerEvent,
  params: r.params,
  connectionIds: r.connectionIds,
  endpointId: r.endpointId,
  includeDetails: r.includeDetails,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** finAPI's notification rules: a trigger, its parameters, a scope of connections, and the endpoint to tell. */
export class NotificationRuleService {
  constructor(
    private readonly deps: Deps,
    private readonly owned: OwnedResources,
    private readonly quotas: Quotas = DEFAULT_QUOTAS,
  ) {}

  private get repo() {
    return new NotificationRuleRepository(this.deps.db.manager);
  }

  async create(appId: string, input: CreateNotificationRuleInput): Promise<NotificationRuleView> {
    const id = await this.deps.db.transaction(async (m) => {
      const rules = new NotificationRuleRepository(m);
      await requireRoomFor(
        m,
        'notificationRulesPerApp',
        this.quotas.notificationRulesPerApp,
        appId,
        () => rules.countForApp(appId),
        'the app',
      );
      await this.checkReferences(m, appId, input.endpointId, input.connectionIds ?? null, input.params);
      const saved = await rules.insert({
        appId,
        triggerEvent: input.triggerEvent,
        params: input.params,
        connectionIds: input.connectionIds ?? null,
        endpointId: input.endpointId,
        includeDetails: input.includeDetails,
      });
      return saved.id;
    });
    return this.get(appId, id);
  }

  async get(appId: string, id: string): Promise<NotificationRuleView> {
    const rule = await this.repo.findForApp(appId, id);
    if (!rule) throw AppError.notFound('notification rule', id);
    return present(rule);
  }

  async list(appId: string): Promise<NotificationRuleView[]> {
    return (await this.repo.listForApp(appId)).map(present);
  }

  async update(appId: string, input: UpdateNotificationRuleInput): Promise<NotificationRuleView> {
    const rule = await this.repo.findForApp(appId, input.id);
    if (!rule) throw AppError.notFound('notification rule', input.id);
    const patch: Partial<NotificationRule> = {};
    if (input.params !== undefined) {
      const parsed = parseRuleParams(rule.triggerEvent, input.params);
      if (!parsed.ok) {
        const error = AppError.validation(parsed.issues[0]!.path, parsed.issues[0]!.message);
        error.details.issues = parsed.issues;
        throw error;
      }
      patch.params = parsed.params;
    }
    if (input.connectionIds !== undefined) patch.connectionIds = input.connectionIds;
    if (input.endpointId !== undefined) patch.endpointId = input.endpointId;
    if (input.includeDetails !== undefined) patch.includeDetails = input.includeDetails;
    await this.checkReferences(this.deps.db.manager, appId, input.endpointId ?? rule.endpointId, input.connectionIds ?? null, patch.params);
    if (Object.keys(patch).length) await this.repo.update(appId, input.id, patch);
    return this.get(appId, input.id);
  }

  async delete(appId: string, id: string): Promise<{ id: string }> {
    await this.get(appId, id);
    await this.repo.delete(appId, id);
    return { id };
  }

  /**
   * The endpoint, the connections and the accounts must be this app's: another app's is NOT_FOUND at its field,
   * exactly like a missing one.
   */
  private async checkReferences(
    m: EntityManager,
    appId: string,
    endpointId: string,
    connectionIds: string[] | null,
    params: NotificationRule['params'] | undefined,
  ): Promise<void> {
    if (!(await new EndpointRepository(m).existsForApp(appId, endpointId)))
      throw AppError.notFound('webhook endpoint', endpointId, ['endpointId']);
    if (connectionIds?.length)
      requireAllFound(connectionIds, await this.owned.connectionIds(m, appId, connectionIds), 'connection', ['connectionIds']);
    const accountIds = params && 'accountIds' in params ? params.accountIds : undefined;
    if (accountIds?.length) {
      requireAllFound(accountIds, await this.owned.accountIds(m, appId, accountIds), 'account', ['params', 'accountIds']);
    }
  }
}
