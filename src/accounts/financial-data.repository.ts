import type { EntityManager } from 'typeorm';
import type { ProviderAccount, ProviderTransaction } from '../providers/provider.ts';

export interface AccountUpsert {
  id: string;
  providerAccountId: string;
  inserted: boolean;
  /** The balance before this upsert (null for a new account). */
  previousBalance: string | null;
  balance: string;
}

export interface TransactionUpsert {
  /** Rows that did not exist before. */
  inserted: { id: string; providerTransactionId: string }[];
  /** Rows that existed and changed (a pending transaction that posted, say). */
  updated: { id: string; providerTransactionId: string }[];
}

const BATCH = 1000;

/**
 * Writes what providers return, idempotently: rows key on the provider's ids, so running the same refresh twice
 * (after a crash, or just twice) never duplicates a row, and unchanged rows are not rewritten.
 */
export class FinancialDataRepository {
  constructor(private readonly manager: EntityManager) {}

  /** Which of `ids` are this app's accounts. */
  async ownedAccountIds(appId: string, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: { id: string }[] = await this.manager.query(`SELECT id FROM accounts WHERE app_id = $1 AND id = ANY($2::uuid[])`, [
      appId,
      ids,
    ]);
    return new Set(rows.map((r) => r.id));
  }

  async upsertAccounts(appId: string, connectionId: string, accounts: ProviderAccount[], now: Date): Promise<AccountUpsert[]> {
    if (accounts.length === 0) return [];
    const unique = [...new Map(accounts.map((a) => [a.id, a])).values()];
    const previous = new Map<string, string>(
      (
        await this.manager.query(
          `SELECT provider_account_id, balance::text AS balance FROM accounts WHERE app_id = $1 AND connection_id = $2`,
          [appId, connectionId],
        )
      ).map((r: { provider_account_id: string; balance: string }) => [r.provider_account_id, r.balance]),
    );
    const rows: { id: string; provider_account_id: string; inserted: boolean; balance: string }[] = await this.manager.query(
      `INSERT INTO accounts (app_id, connection_id, provider_account_id, name, type, currency, balance, available_balance, last_updated_at)
       SELECT $1, $2, a.pid, a.name, a.type, a.currency, a.balance, a.available, $9
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[]) AS a(pid, name, type, currency, balance, available)
       ON CONFLICT (connection_id, provider_account_id) DO UPDATE SET
         name = EXCLUDED.name, type = EXCLUDED.type, currency = EXCLUDED.currency, balance = EXCLUDED.balance,
         available_balance = EXCLUDED.available_balance, last_updated_at = EXCLUDED.last_updated_at, updated_at = now()
       RETURNING id, provider_account_id, (xmax = 0) AS inserted, balance::text AS balance`,
      [
        appId,
        connectionId,
        unique.map((a) => a.id),
        unique.map((a) => a.name),
        unique.map((a) => a.type),
        unique.map((a) => a.currency),
        unique.map((a) => a.balance),
        unique.map((a) => a.availableBalance),
        now,
      ],
    );
    return rows.map((r) => ({
      id: r.id,
      providerAccountId: r.provider_account_id,
      inserted: r.inserted,
      previousBalance: previous.get(r.provider_account_id) ?? null,
      balance: r.balance,
    }));
  }

  async upsertTransactions(
    appId: string,
    connectionId: string,
    accountId: string,
    transactions: ProviderTransaction[],
  ): Promise<TransactionUpsert> {
    const unique = [...new Map(transactions.map((t) => [t.id, t])).values()];
    const result: TransactionUpsert = { inserted: [], updated: [] };
    for (let i = 0; i < unique.length; i += BATCH) {
      const batch = unique.slice(i, i + BATCH);
      const rows: { id: string; provider_transaction_id: string; inserted: boolean }[] = await this.manager.query(
        `INSERT INTO transactions (app_id, connection_id, account_id, provider_transaction_id, amount, currency, description, booked_at, status)
         SELECT $1, $2, $3, t.pid, t.amount, t.currency, t.description, t.booked_at, t.status
         FROM unnest($4::text[], $5::numeric[], $6::text[], $7::text[], $8::timestamptz[], $9::text[])
              AS t(pid, amount, currency, description, booked_at, status)
         ON CONFLICT (account_id, provider_transaction_id) DO UPDATE SET
           amount = EXCLUDED.amount, currency = EXCLUDED.currency, description = EXCLUDED.description,
           booked_at = EXCLUDED.booked_at, status = EXCLUDED.status, updated_at = now()
         WHERE (transactions.amount, transactions.currency, transactions.description, transactions.booked_at, transactions.status)
               IS DISTINCT FROM (EXCLUDED.amount, EXCLUDED.currency, EXCLUDED.description, EXCLUDED.booked_at, EXCLUDED.status)
         RETURNING id, provider_transaction_id, (xmax = 0) AS inserted`,
        [
          appId,
          connectionId,
          accountId,
          batch.map((t) => t.id),
          batch.map((t) => t.amount),
          batch.map((t) => t.currency),
          batch.map((t) => t.description.slice(0, 1000)),
          batch.map((t) => t.bookedAt),
          batch.map((t) => t.status),
        ],
      );
      for (const r of rows)
        (r.inserted ? result.inserted : result.updated).push({ id: r.id, providerTransactionId: r.provider_transaction_id });
    }
    return result;
  }
}
