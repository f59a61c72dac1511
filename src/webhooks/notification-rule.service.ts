import { Connection, NotificationRule, WebhookEndpoint } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { parseRuleParams, type CreateNotificationRuleInput, type UpdateNotificationRuleInput } from './webhook.schemas.ts';
import { In } from 'typeorm';

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
  constructor(private readonly deps: Deps) {}

  private get repo() {
    return this.deps.db.getRepository(NotificationRule);
  }

  async create(appId: string, input: CreateNotificationRuleInput): Promise<NotificationRuleView> {
    await this.checkReferences(appId, input.endpointId, input.connectionIds ?? null);
    const saved = await this.repo.save(
      this.repo.create({
        appId,
        triggerEvent: input.triggerEvent,
        params: input.params,
        connectionIds: input.connectionIds ?? null,
        endpointId: input.endpointId,
        includeDetails: input.includeDetails,
      }),
    );
    return this.get(appId, saved.id);
  }

  async get(appId: string, id: string): Promise<NotificationRuleView> {
    const rule = await this.repo.findOneBy({ appId, id });
    if (!rule) throw AppError.notFound('notification rule', id);
    return present(rule);
  }

  async list(appId: string): Promise<NotificationRuleView[]> {
    return (await this.repo.find({ where: { appId }, order: { createdAt: 'ASC', id: 'ASC' } })).map(present);
  }

  async update(appId: string, input: UpdateNotificationRuleInput): Promise<NotificationRuleView> {
    const rule = await this.repo.findOneBy({ appId, id: input.id });
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
    await this.checkReferences(appId, input.endpointId ?? rule.endpointId, input.connectionIds === undefined ? null : input.connectionIds);
    if (Object.keys(patch).length) await this.repo.update({ appId, id: input.id }, patch);
    return this.get(appId, input.id);
  }

  async delete(appId: string, id: string): Promise<{ id: string }> {
    await this.get(appId, id);
    await this.repo.delete({ appId, id });
    return { id };
  }

  /** The endpoint and the connections must be this app's (another app's look exactly like missing ones). */
  private async checkReferences(appId: string, endpointId: string, connectionIds: string[] | null): Promise<void> {
    if (!(await this.deps.db.getRepository(WebhookEndpoint).existsBy({ appId, id: endpointId }))) {
      throw AppError.validation(['endpointId'], `no webhook endpoint ${endpointId}`);
    }
    if (connectionIds?.length) {
      const found = new Set((await this.deps.db.getRepository(Connection).find({ select: { id: true }, where: { appId, id: In(connectionIds) } })).map((c) => c.id));
      const missing = connectionIds.findIndex((id) => !found.has(id));
      if (missing >= 0) throw AppError.validation(['connectionIds', missing], `no connection ${connectionIds[missing]}`);
    }
  }
}
