import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { NotificationRule, type NotificationTrigger } from '../../entities/index.ts';

/**
 * The statements on notification rules: the API's, and the recorder's read of the rules an event may fire. Each takes
 * the app id and filters by it; built on the caller's manager, so each runs in the caller's transaction.
 */
export class NotificationRuleRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(NotificationRule);
  }

  /** How many rules the app has (its quota's count). */
  countForApp(appId: string): Promise<number> {
    return this.repo.countBy({ appId });
  }

  /** Inserts the rule and returns it as stored (its id and timestamps are the database's). */
  insert(
    rule: Pick<NotificationRule, 'appId' | 'triggerEvent' | 'params' | 'connectionIds' | 'endpointId' | 'includeDetails'>,
  ): Promise<NotificationRule> {
    return this.repo.save(this.repo.create(rule));
  }

  findForApp(appId: string, id: string): Promise<NotificationRule | null> {
    return this.repo.findOneBy({ appId, id });
  }

  /** The app's rules, oldest first. */
  listForApp(appId: string): Promise<NotificationRule[]> {
    return this.repo.find({ where: { appId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async update(appId: string, id: string, patch: QueryDeepPartialEntity<NotificationRule>): Promise<void> {
    await this.repo.update({ appId, id }, patch);
  }

  async delete(appId: string, id: string): Promise<void> {
    await this.repo.delete({ appId, id });
  }

  /** The app's rules on these triggers whose endpoint is enabled: the ones a new event may fire. */
  listFiring(appId: string, triggers: readonly NotificationTrigger[]): Promise<NotificationRule[]> {
    return this.repo
      .createQueryBuilder('r')
      .innerJoin('r.endpoint', 'endpoint', 'endpoint.enabled')
      .where('r.app_id = :appId AND r.trigger_event IN (:...triggers)', { appId, triggers })
      .getMany();
  }
}

/** finAPI's rule on deleting connections: rules scoped only to them are deleted, others just stop naming them. */
export async function removeConnectionsFromRules(m: EntityManager, appId: string, connectionIds: string[]): Promise<void> {
  if (connectionIds.length === 0) return;
  await m.query(`DELETE FROM notification_rules WHERE app_id = $1 AND connection_ids IS NOT NULL AND connection_ids <@ $2::uuid[]`, [
    appId,
    connectionIds,
  ]);
  await m.query(
    `UPDATE notification_rules
       SET connection_ids = ARRAY(SELECT x FROM unnest(connection_ids) AS x WHERE x <> ALL($2::uuid[])), updated_at = now()
     WHERE app_id = $1 AND connection_ids && $2::uuid[]`,
    [appId, connectionIds],
  );
}
