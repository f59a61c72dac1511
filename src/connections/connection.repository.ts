import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { Connection } from '../../entities/index.ts';
import { decodeCursor, keysetPage } from '../db/keyset-cursor.ts';
import type { ListConnectionsInput } from './connection.schemas.ts';
import { refreshDueSql } from './refresh-schedule.ts';

/**
 * Every query on connections. Each one takes the app id and filters by it: tenant isolation by construction.
 */
export class ConnectionRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(Connection);
  }

  // The two hottest reads (connections.get and .list) are plain SQL with the entity's own column list: the same rows,
  // without the query builder's per-call cost (the API benchmark found it a large part of a request's CPU).
  async findOne(appId: string, id: string): Promise<Connection | null> {
    const rows: Connection[] = await this.manager.query(
      `SELECT ${selectList(this.manager)} FROM connections c WHERE c.app_id = $1 AND c.id = $2`,
      [appId, id],
    );
    return rows[0] ?? null;
  }

  /** The row, locked until the transaction ends: callers that check "busy" and then write hold this. */
  lockOne(appId: string, id: string): Promise<Connection | null> {
    return this.repo.createQueryBuilder('c').setLock('pessimistic_write').where('c.app_id = :appId AND c.id = :id', { appId, id }).getOne();
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
    const params: unknown[] = [appId];
    const where = ['c.app_id = $1'];
    const add = (sql: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    const f = input.filter;
    if (input.userId !== undefined) add((p) => `c.user_id = ${p}`, input.userId);
    if (f?.ids) add((p) => `c.id = ANY(${p}::uuid[])`, f.ids);
    if (f?.status) add((p) => `c.status = ANY(${p}::text[])`, f.status);
    if (f?.state) add((p) => `c.state = ANY(${p}::text[])`, f.state);
    if (f?.institutionId) add((p) => `c.institution_id = ANY(${p}::text[])`, f.institutionId);
    if (f?.method) add((p) => `c.method = ANY(${p}::text[])`, f.method);
    if (input.cursor) {
      const after = decodeCursor(input.cursor);
      params.push(after.at, after.id);
      where.push(`(c.created_at, c.id) > ($${params.length - 1}, $${params.length})`);
    }
    params.push(input.limit + 1);
    const rows: Connection[] = await this.manager.query(
      `SELECT ${selectList(this.manager)} FROM connections c WHERE ${where.join(' AND ')} ORDER BY c.created_at, c.id LIMIT $${params.length}`,
      params,
    );
    return keysetPage(rows, input.limit, (c) => ({ at: c.createdAt, id: c.id }));
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

  /** Which of `ids` are this app's connections (another app's look exactly like missing ones). */
  async ownedIds(appId: string, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: { id: string }[] = await this.manager.query(`SELECT id FROM connections WHERE app_id = $1 AND id = ANY($2::uuid[])`, [
      appId,
      ids,
    ]);
    return new Set(rows.map((r) => r.id));
  }

  /** Whether the app has this connection (another app's looks exactly like a missing one). */
  exists(appId: string, id: string): Promise<boolean> {
    return this.repo.existsBy({ appId, id });
  }

  async countByUser(appId: string, userId: string): Promise<number> {
    const [row]: { n: number }[] = await this.manager.query(
      `SELECT count(*)::int AS n FROM connections WHERE app_id = $1 AND user_id = $2`,
      [appId, userId],
    );
    return row!.n;
  }

  async deleteByIds(appId: string, ids: string[]): Promise<void> {
    if (ids.length) await this.repo.createQueryBuilder().delete().where('app_id = :appId AND id IN (:...ids)', { appId, ids }).execute();
  }

  /** When the longest-overdue connection due for an automatic refresh became due (the refresh-lag metric). */
  async oldestRefreshDue(now: Date): Promise<{ oldest: Date | null }> {
    const [row]: { oldest: Date | null }[] = await this.manager.query(
      `SELECT min(next_refresh_at) AS oldest FROM connections WHERE ${refreshDueSql('$1')}`,
      [now],
    );
    return { oldest: row?.oldest ? new Date(row.oldest) : null };
  }
}

const selectLists = new WeakMap<object, string>();

/** The entity's selectable columns, aliased to its property names (credentials, select: false, are not among them). */
function selectList(manager: EntityManager): string {
  const metadata = manager.connection.getMetadata(Connection);
  let list = selectLists.get(metadata);
  if (!list) {
    list = metadata.columns
      .filter((c) => c.isSelect)
      .map((c) => `c."${c.databaseName}" AS "${c.propertyName}"`)
      .join(', ');
    selectLists.set(metadata, list);
  }
  return list;
}
