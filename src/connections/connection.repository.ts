import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { Connection } from '../../entities/index.ts';
import { decodeCursor, encodeCursor } from '../db/keyset-cursor.ts';
import type { ListConnectionsInput } from './connection.schemas.ts';

/**
 * Every query on connections. Each one takes the app id and filters by it: tenant isolation by construction.
 */
export class ConnectionRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(Connection);
  }

  findOne(appId: string, id: string): Promise<Connection | null> {
    return this.repo.findOneBy({ appId, id });
  }

  /** The row, locked until the transaction ends: callers that check "busy" and then write hold this. */
  lockOne(appId: string, id: string): Promise<Connection | null> {
    return this.repo
      .createQueryBuilder('c')
      .setLock('pessimistic_write')
      .where('c.app_id = :appId AND c.id = :id', { appId, id })
      .getOne();
  }

  /** Ids of a user's connections, locked in id order (a fixed order, so two callers cannot deadlock). */
  async lockIdsByUser(appId: string, userId: string): Promise<string[]> {
    const rows = await this.repo
      .createQueryBuilder('c')
      .select('c.id', 'id')
      .setLock('pessimistic_write')
      .where('c.app_id = :appId AND c.user_id = :userId', { appId, userId })
      .orderBy('c.id', 'ASC')
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  async list(appId: string, input: ListConnectionsInput): Promise<{ items: Connection[]; nextCursor: string | null }> {
    const qb = this.repo.createQueryBuilder('c').where('c.app_id = :appId', { appId });
    const f = input.filter;
    if (input.userId !== undefined) qb.andWhere('c.user_id = :userId', { userId: input.userId });
    if (f?.ids) qb.andWhere('c.id IN (:...ids)', { ids: f.ids });
    if (f?.status) qb.andWhere('c.status IN (:...status)', { status: f.status });
    if (f?.state) qb.andWhere('c.state IN (:...state)', { state: f.state });
    if (f?.institutionId) qb.andWhere('c.institution_id IN (:...inst)', { inst: f.institutionId });
    if (f?.method) qb.andWhere('c.method IN (:...method)', { method: f.method });
    if (input.cursor) {
      const after = decodeCursor(input.cursor);
      qb.andWhere('(c.created_at, c.id) > (:afterAt, :afterId)', { afterAt: after.at, afterId: after.id });
    }
    const rows = await qb
      .orderBy('c.created_at', 'ASC')
      .addOrderBy('c.id', 'ASC')
      .limit(input.limit + 1)
      .getMany();
    const items = rows.slice(0, input.limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > input.limit && last ? encodeCursor({ at: last.createdAt, id: last.id }) : null };
  }

  async insert(connection: Partial<Connection>): Promise<Connection> {
    await this.repo.insert(connection as QueryDeepPartialEntity<Connection>);
    return this.repo.findOneByOrFail({ appId: connection.appId!, id: connection.id! });
  }

  /** Applies a patch and bumps the version. */
  async update(appId: string, id: string, patch: Partial<Connection>): Promise<Connection> {
    // jsonb columns (error, datasetState) are whole values, not partials: TypeORM's deep-partial type says otherwise.
    await this.repo.update({ appId, id }, patch as QueryDeepPartialEntity<Connection>);
    return this.repo.findOneByOrFail({ appId, id });
  }

  async deleteByIds(appId: string, ids: string[]): Promise<void> {
    if (ids.length) await this.repo.createQueryBuilder().delete().where('app_id = :appId AND id IN (:...ids)', { appId, ids }).execute();
  }
}
