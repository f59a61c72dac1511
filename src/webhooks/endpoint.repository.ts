import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { WebhookEndpoint } from '../../entities/index.ts';
import { listKeysetPage, type KeysetRequest } from '../db/keyset-cursor.ts';

/**
 * The statements on webhook endpoints that the endpoints API and the notification rules make (the delivery side's
 * are in delivery.repository.ts). Each takes the app id and filters by it. Built on the caller's manager, so a
 * statement runs in the caller's transaction when there is one.
 */
export class EndpointRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(WebhookEndpoint);
  }

  /** How many endpoints the app has (its quota's count). */
  countForApp(appId: string): Promise<number> {
    return this.repo.countBy({ appId });
  }

  async insert(endpoint: QueryDeepPartialEntity<WebhookEndpoint>): Promise<void> {
    await this.repo.insert(endpoint);
  }

  /** The endpoint without its secrets, or null when the app has no such endpoint. */
  findForApp(appId: string, id: string): Promise<WebhookEndpoint | null> {
    return this.repo.findOneBy({ appId, id });
  }

  /** Whether the app has this endpoint (another app's looks exactly like a missing one). */
  existsForApp(appId: string, id: string): Promise<boolean> {
    return this.repo.existsBy({ appId, id });
  }

  /** The app's endpoints, oldest first, a keyset page at a time. */
  listForApp(appId: string, page: KeysetRequest): Promise<{ items: WebhookEndpoint[]; nextCursor: string | null }> {
    const qb = this.repo.createQueryBuilder('e').where('e.app_id = :appId', { appId });
    return listKeysetPage(qb, { at: 'e.created_at', id: 'e.id', direction: 'ASC' }, page, (e) => ({ at: e.createdAt, id: e.id }));
  }

  /** The endpoint with its current secret, locked until the transaction ends (a rotation holds it). */
  lockWithSecret(appId: string, id: string): Promise<WebhookEndpoint | null> {
    return this.repo
      .createQueryBuilder('e')
      .addSelect('e.secretCiphertext')
      .setLock('pessimistic_write')
      .where('e.app_id = :appId AND e.id = :id', { appId, id })
      .getOne();
  }

  async update(appId: string, id: string, patch: QueryDeepPartialEntity<WebhookEndpoint>): Promise<void> {
    await this.repo.update({ appId, id }, patch);
  }

  /** Deletes the endpoint; its deliveries and the notification rules that send to it go with it (ON DELETE CASCADE). */
  async delete(appId: string, id: string): Promise<void> {
    await this.repo.delete({ appId, id });
  }
}
