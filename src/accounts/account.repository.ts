import type { EntityManager } from 'typeorm';
import { Account, Connection, Transaction } from '../../entities/index.ts';
import { listKeysetPage } from '../db/keyset-cursor.ts';

/** Whose accounts to list: one connection's, or every connection of one of the app's users. */
export type AccountScope = { connectionId: string } | { userId: string };

/** Which transactions to list: one account's or one connection's, optionally within booking dates, after a cursor. */
export interface TransactionFilter {
  scope: { accountId: string } | { connectionId: string };
  from?: Date;
  to?: Date;
  cursor?: string;
  limit: number;
}

/**
 * The reads behind accounts.* and transactions.* (the writes that refreshes make are in financial-data.repository.ts).
 * Each takes the app id and filters by it.
 */
export class AccountRepository {
  constructor(private readonly manager: EntityManager) {}

  async accountExists(appId: string, id: string): Promise<boolean> {
    return this.manager.getRepository(Account).existsBy({ appId, id });
  }

  /** In the order a refresh found them: created_at, then the provider's ids (accounts of one refresh share created_at). */
  listAccounts(appId: string, scope: AccountScope): Promise<Account[]> {
    const qb = this.manager.getRepository(Account).createQueryBuilder('a').where('a.app_id = :appId', { appId });
    if ('connectionId' in scope) {
      qb.andWhere('a.connection_id = :connectionId', { connectionId: scope.connectionId });
    } else {
      qb.innerJoin(Connection, 'c', 'c.id = a.connection_id AND c.app_id = a.app_id').andWhere('c.user_id = :userId', {
        userId: scope.userId,
      });
    }
    return qb.orderBy('a.created_at', 'ASC').addOrderBy('a.provider_account_id', 'ASC').addOrderBy('a.id', 'ASC').getMany();
  }

  /** Newest first, keyset-paginated on (bookedAt, id). */
  async listTransactions(appId: string, filter: TransactionFilter): Promise<{ items: Transaction[]; nextCursor: string | null }> {
    const qb = this.manager.getRepository(Transaction).createQueryBuilder('t').where('t.app_id = :appId', { appId });
    if ('accountId' in filter.scope) qb.andWhere('t.account_id = :accountId', { accountId: filter.scope.accountId });
    else qb.andWhere('t.connection_id = :connectionId', { connectionId: filter.scope.connectionId });
    if (filter.from) qb.andWhere('t.booked_at >= :from', { from: filter.from });
    if (filter.to) qb.andWhere('t.booked_at <= :to', { to: filter.to });
    return listKeysetPage(qb, { at: 't.booked_at', id: 't.id', direction: 'DESC' }, filter, (t) => ({ at: t.bookedAt, id: t.id }));
  }
}
