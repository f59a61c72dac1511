import { In, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { Connection, sqlList, type ConnectionStatus, type Dataset } from '../../entities/index.ts';
import { decodeCursor, keysetPage } from '../db/keyset-cursor.ts';
import { selectList } from '../db/select-list.ts';
import { noActiveJob } from '../jobs/job.repository.ts';
import type { ListConnectionsInput } from './connection.schemas.ts';
import { refreshDueSql } from './refresh-schedule.ts';

/** The statuses whose consent the consent sweeps watch: warned before it ends, EXPIRED once it has. */
const CONSENT_WATCHED: readonly ConnectionStatus[] = ['INITIATED', 'ACTIVE'];

/** A connection the refresh sweep moved to its next slot, with what its job needs. */
export interface ScheduledRefresh {
  id: string;
  appId: string;
  institutionId: string;
  datasets: Dataset[] | null;
}

/**
 * Every query on connections. Each one takes the app id and filters by it: tenant isolation by construction. The
 * scheduler's sweeps, which work across apps, are the exception, and say so.
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
      `SELECT ${connectionColumns(this.manager)} FROM connections c WHERE c.app_id = $1 AND c.id = $2`,
      [appId, id],
    );
    return rows[0] ?? null;
  }

  /** The row with its sealed credentials (select: false everywhere else): the refresh, which hands them to the provider. */
  findWithCredentials(appId: string, id: string): Promise<Connection | null> {
    return this.repo
      .createQueryBuilder('c')
      .addSelect('c.credentialsCiphertext')
      .where('c.app_id = :appId AND c.id = :id', { appId, id })
      .getOne();
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
      `SELECT ${connectionColumns(this.manager)} FROM connections c WHERE ${where.join(' AND ')} ORDER BY c.created_at, c.id LIMIT $${params.length}`,
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

  /**
   * The refresh sweep's batch, across apps: locks up to `limit` connections that are due (the one due rule) and have
   * no job in progress, with SKIP LOCKED so replicas sweeping at once share the work, and moves each to its next
   * slot. The next slot keeps the connection's rhythm: one interval on from when it was due, or from now if it fell
   * behind by more than an interval. Intervals never go below the institution's minimum.
   */
  async scheduleDueRefreshes(now: Date, limit: number): Promise<ScheduledRefresh[]> {
    const [rows]: [{ id: string; app_id: string; institution_id: string; datasets: Dataset[] | null }[], number] = await this.manager.query(
      `WITH due AS (
         SELECT c.id FROM connections c
         WHERE ${refreshDueSql('$1', { alias: 'c' })}
           AND ${noActiveJob('c')}
         ORDER BY c.next_refresh_at
         LIMIT $2
         FOR UPDATE OF c SKIP LOCKED)
       UPDATE connections c
       SET next_refresh_at = CASE
             WHEN c.next_refresh_at + greatest(c.refresh_interval_minutes, i.min_refresh_interval_minutes) * interval '1 minute' > $1
             THEN c.next_refresh_at + greatest(c.refresh_interval_minutes, i.min_refresh_interval_minutes) * interval '1 minute'
             ELSE $1::timestamptz + greatest(c.refresh_interval_minutes, i.min_refresh_interval_minutes) * interval '1 minute' END
       FROM due, institutions i
       WHERE c.id = due.id AND i.id = c.institution_id
       RETURNING c.id, c.app_id, c.institution_id, c.datasets`,
      [now, limit],
    );
    return rows.map((r) => ({ id: r.id, appId: r.app_id, institutionId: r.institution_id, datasets: r.datasets }));
  }

  /**
   * The consent-warning sweep's batch, across apps: up to `limit` connections whose consent ends after `now` and by
   * `until`, and that were not yet warned about this expiry, locked (SKIP LOCKED) and marked as warned for it.
   * Returns their ids.
   */
  async markConsentsEndingBy(now: Date, until: Date, limit: number): Promise<string[]> {
    const [rows]: [{ id: string }[], number] = await this.manager.query(
      `WITH due AS (
         SELECT id FROM connections
         WHERE consent_expires_at IS NOT NULL AND status IN (${sqlList(CONSENT_WATCHED)})
           AND consent_expires_at > $1 AND consent_expires_at <= $2
           AND consent_warned_for IS DISTINCT FROM consent_expires_at
         ORDER BY consent_expires_at LIMIT $3
         FOR UPDATE SKIP LOCKED)
       UPDATE connections c SET consent_warned_for = c.consent_expires_at FROM due WHERE c.id = due.id RETURNING c.id`,
      [now, until, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Connections by id, whatever their app: for a sweep that found the ids itself (markConsentsEndingBy). */
  findSweptByIds(ids: readonly string[]): Promise<Connection[]> {
    return this.repo.findBy({ id: In(ids) });
  }

  /**
   * The consent-expiry sweep's batch, across apps: up to `limit` connections whose consent has passed by `now` and
   * that have no job in progress (the job notices a lapsed consent itself), locked with SKIP LOCKED.
   */
  async lockLapsedConsents(now: Date, limit: number): Promise<{ id: string; appId: string }[]> {
    const rows: { id: string; app_id: string }[] = await this.manager.query(
      `SELECT c.id, c.app_id FROM connections c
       WHERE c.consent_expires_at IS NOT NULL AND c.status IN (${sqlList(CONSENT_WATCHED)}) AND c.consent_expires_at <= $1
         AND ${noActiveJob('c')}
       ORDER BY c.consent_expires_at LIMIT $2
       FOR UPDATE OF c SKIP LOCKED`,
      [now, limit],
    );
    return rows.map((r) => ({ id: r.id, appId: r.app_id }));
  }
}

/** The entity's selectable columns, aliased to its property names (credentials, select: false, are not among them). */
const connectionColumns = (manager: EntityManager) => selectList(manager.connection.getMetadata(Connection), 'c');
