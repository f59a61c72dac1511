import { presentMoney } from '../providers/money.ts';
import type { Account, Transaction } from '../../entities/index.ts';
import { ConnectionRepository } from '../connections/connection.repository.ts';
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { AccountRepository, type TransactionFilter } from './account.repository.ts';
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
    if ('connectionId' in input) await this.requireConnection(appId, input.connectionId);
    const scope = 'connectionId' in input ? { connectionId: input.connectionId } : { userId: input.userId };
    return (await new AccountRepository(this.deps.db.manager).listAccounts(appId, scope)).map(presentAccount);
  }

  /** Newest first, keyset-paginated on (bookedAt, id). */
  async listTransactions(appId: string, input: ListTransactionsInput): Promise<{ items: TransactionView[]; nextCursor: string | null }> {
    const accounts = new AccountRepository(this.deps.db.manager);
    let scope: TransactionFilter['scope'];
    if ('accountId' in input) {
      if (!(await accounts.accountExists(appId, input.accountId))) throw AppError.notFound('account', input.accountId);
      scope = { accountId: input.accountId };
    } else {
      await this.requireConnection(appId, input.connectionId);
      scope = { connectionId: input.connectionId };
    }
    const page = await accounts.listTransactions(appId, {
      scope,
      from: input.from,
      to: input.to,
      cursor: input.cursor,
      limit: input.limit,
    });
    return { items: page.items.map(presentTransaction), nextCursor: page.nextCursor };
  }

  private async requireConnection(appId: string, id: string): Promise<void> {
    if (!(await new ConnectionRepository(this.deps.db.manager).exists(appId, id))) throw AppError.notFound('connection', id);
  }
}
