import { randomUUID } from 'node:crypto';
import type { WebhookEndpoint } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import type { EntityManager } from 'typeorm';
import { AppError, requireAllFound } from '../errors.ts';
import { DEFAULT_QUOTAS, requireRoomFor, type Quotas } from '../quotas.ts';
import { presentEndpoint, type EndpointView } from './endpoint.presenter.ts';
import { EndpointRepository } from './endpoint.repository.ts';
import { sealSecret } from './endpoint.secrets.ts';
import type { OwnedResources } from './owned-resources.ts';
import type { CreateEndpointInput, UpdateEndpointInput } from './webhook.schemas.ts';
import type { WebhookSettings } from './webhook.settings.ts';
import { endpointUrlProblem } from '../security/address-policy.ts';
import { generateSecret } from './webhook-signer.ts';

/** Webhook endpoints: where an app's events go, which ones, and the secret that signs them. */
export class EndpointService {
  constructor(
    private readonly deps: Deps,
    private readonly settings: WebhookSettings,
    private readonly owned: OwnedResources,
    private readonly quotas: Quotas = DEFAULT_QUOTAS,
  ) {}

  private get repo() {
    return new EndpointRepository(this.deps.db.manager);
  }

  /** Creates an endpoint. The answer holds its signing secret; no other answer ever does, except rotateSecret's. */
  async create(appId: string, input: CreateEndpointInput): Promise<{ endpoint: EndpointView; secret: string }> {
    this.checkUrl(input.url);
    const id = randomUUID();
    const secret = generateSecret();
    const sealed = sealSecret(this.deps.cipher, { appId, id }, secret);
    await this.deps.db.transaction(async (m) => {
      const endpoints = new EndpointRepository(m);
      await requireRoomFor(m, 'endpointsPerApp', this.quotas.endpointsPerApp, appId, () => endpoints.countForApp(appId), 'the app');
      await this.requireOwnConnections(m, appId, input.connectionIds);
      await endpoints.insert({
        id,
        appId,
        url: input.url,
        description: input.description ?? null,
        eventTypes: input.eventTypes ?? null,
        connectionIds: input.connectionIds ?? null,
        enabled: true,
        secretCiphertext: sealed.ciphertext,
        secretKeyId: sealed.keyId,
      });
    });
    return { endpoint: await this.get(appId, id), secret };
  }

  async get(appId: string, id: string): Promise<EndpointView> {
    return presentEndpoint(await this.find(appId, id));
  }

  async find(appId: string, id: string): Promise<WebhookEndpoint> {
    const found = await this.repo.findForApp(appId, id);
    if (!found) throw AppError.notFound('webhook endpoint', id);
    return found;
  }

  async list(appId: string, input: { cursor?: string; limit: number }): Promise<{ items: EndpointView[]; nextCursor: string | null }> {
    const page = await this.repo.listForApp(appId, input);
    return { items: page.items.map(presentEndpoint), nextCursor: page.nextCursor };
  }

  /** Changes url, filters or enabled. Enabling again clears the failure record, so the endpoint starts afresh. */
  async update(appId: string, input: UpdateEndpointInput): Promise<EndpointView> {
    const current = await this.find(appId, input.id);
    if (input.url !== undefined) this.checkUrl(input.url);
    await this.requireOwnConnections(this.deps.db.manager, appId, input.connectionIds);
    const patch: Partial<WebhookEndpoint> = {};
    if (input.url !== undefined) patch.url = input.url;
    if (input.description !== undefined) patch.description = input.description;
    if (input.eventTypes !== undefined) patch.eventTypes = input.eventTypes;
    if (input.connectionIds !== undefined) patch.connectionIds = input.connectionIds;
    if (input.enabled !== undefined && input.enabled !== current.enabled) {
      patch.enabled = input.enabled;
      patch.disabledReason = input.enabled ? null : 'disabled by the app';
      if (input.enabled) patch.failingSince = null;
    }
    if (Object.keys(patch).length) await this.repo.update(appId, input.id, patch);
    return this.get(appId, input.id);
  }

  /** Deletes the endpoint with its deliveries and the notification rules that send to it. */
  async delete(appId: string, id: string): Promise<{ id: string }> {
    await this.find(appId, id);
    await this.repo.delete(appId, id);
    return { id };
  }

  /** A new secret; the old one keeps signing alongside it for the overlap (24 h by default) so subscribers can switch. */
  async rotateSecret(appId: string, id: string): Promise<{ endpoint: EndpointView; secret: string }> {
    const now = this.deps.clock.now();
    const secret = generateSecret();
    await this.deps.db.transaction(async (m) => {
      const endpoints = new EndpointRepository(m);
      const current = await endpoints.lockWithSecret(appId, id);
      if (!current) throw AppError.notFound('webhook endpoint', id);
      const sealed = sealSecret(this.deps.cipher, current, secret);
      await endpoints.update(appId, id, {
        secretCiphertext: sealed.ciphertext,
        secretKeyId: sealed.keyId,
        previousSecretCiphertext: current.secretCiphertext,
        previousSecretKeyId: current.secretKeyId,
        previousSecretExpiresAt: new Date(now.getTime() + this.settings.secretOverlapMs),
      });
    });
    return { endpoint: await this.get(appId, id), secret };
  }

  /** An endpoint filtered on connections names only the app's own: another app's is NOT_FOUND, as missing. */
  private async requireOwnConnections(m: EntityManager, appId: string, ids: string[] | null | undefined): Promise<void> {
    if (ids?.length) requireAllFound(ids, await this.owned.connectionIds(m, appId, ids), 'connection', ['connectionIds']);
  }

  private checkUrl(url: string): void {
    const problem = endpointUrlProblem(url, { allowHttp: this.settings.allowHttp, allowedAddresses: this.settings.allowedAddresses });
    if (problem) throw AppError.validation(['url'], problem);
  }
}
