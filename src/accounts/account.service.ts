import { presentMoney } from '../providers/money.ts';
import { Account, Connection, Transaction } from '../../entities/index.ts';
import { decodeCursor, keysetPage } from '../db/keyset-cursor.ts';
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import type { ListAccountsInput, ListTransactionsInput } from './account.schemas.ts';

export interface AccountView {
  id: string;
  connectionId: string;
  providerId: string;
  name: string;
  type: string;
  currency: string;
  /** Exact decimal strings. */
  balance: string;
  availableBalance: string | null;
  lastUpdatedAt: Date;
}

export interface TransactionView {
  id: string;
  accountId: string;
  connectionId: string;
  providerId: string;
  amount: string;
  currency: string;
  description: string;
  bookedAt: Date;
  status: 'pending' | 'posted';
}

// numeric(20,4) comes back with four decimals; show money as the provider gave it (at least two).
const money = presentMoney;

const presentAccount = (a: Account): AccountView => ({
  id: a.id,
  connectionId: a.connectionId,
  providerId: a.providerAccountId,
  name: a.name,
  type: a.type,
  currency: a.currency,
  balance: money(a.balance),
  availableBalance: a.availableBalance === null ? null : money(a.availableBalance),
  lastUpdatedAt: a.lastUpdatedAt,
});

const presentTransaction = (t: Transaction): TransactionView => ({
  id: t.id,
  accountId: t.accountId,
  connectionId: t.connectionId,
  providerId: t.providerTransactionId,
  amount: money(t.amount),
  currency: t.currency,
  description: t.description,
  bookedAt: t.bookedAt,
  status: t.status,
});

/** Reading the accounts and transactions refreshes have written. */
export class AccountService {
  constructor(private readonly deps: Deps) {}

  async listAccounts(appId: string, input: ListAccountsInput): Promise<AccountView[]> {
    const qb = this.deps.db.getRepository(Account).createQueryBuilder('a').where('a.app_id = :appId', { appId });
    if ('connectionId' in input) {
      await this.requireConnection(appId, input.connectionId);
      qb.andWhere('a.connection_id = :connectionId', { connectionId: input.connectionId });
    } else {
      qb.innerJoin(Connection, 'c', 'c.id = a.connection_id AND c.app_id = a.app_id').andWhere('c.user_id = :userId', {
        userId: input.userId,
      });
    }
    // Accounts found in one refresh share created_at: the provider's ids give them a stable order.
    return (await qb.orderBy('a.created_at', 'ASC').addOrderBy('a.provider_account_id', 'ASC').addOrderBy('a.id', 'ASC').getMany()).map(
      presentAccount,
    );
  }

  /** Newest first, keyset-paginated on (bookedAt, id). */
  async listTransactions(appId: string, input: ListTransactionsInput): Promise<{ items: TransactionView[]; nextCursor: string | null }> {
    const qb = this.deps.db.getRepository(Transaction).createQueryBuilder('t').where('t.app_id = :appId', { appId });
    if ('accountId' in input) {
      const exists = await this.deps.db.getRepository(Account).existsBy({ appId, id: input.accountId });
      if (!exists) throw AppError.notFound('account', input.accountId);
      qb.andWhere('t.account_id = :accountId', { accountId: input.accountId });
    } else {
      await this.requireConnection(appId, input.connectionId);
      qb.andWhere('t.connection_id = :connectionId', { connectionId: input.connectionId });
    }
    if (input.from) qb.andWhere('t.booked_at >= :from', { from: input.from });
    if (input.to) qb.andWhere('t.booked_at <= :to', { to: input.to });
    if (input.cursor) {
      const before = decodeCursor(input.cursor);
      qb.andWhere('(t.booked_at, t.id) < (:at, :id)', { at: before.at, id: before.id });
    }
    const rows = await qb
      .orderBy('t.booked_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(input.limit + 1)
      .getMany();
    const page = keysetPage(rows, input.limit, (t) => ({ at: t.bookedAt, id: t.id }));
    return { items: page.items.map(presentTransaction), nextCursor: page.nextCursor };
  }

  private async requireConnection(appId: string, id: string): Promise<void> {
    if (!(await this.deps.db.getRepository(Connection).existsBy({ appId, id }))) throw AppError.notFound('connection', id);
  }
}
