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

/** Rows per upsert statement (arrays, so no parameter limit: this bounds one statement's size). */
const BATCH = 5000;

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
    // The previous balances come from the statement's own snapshot (a WITH query sees the rows as they were before
    // the upsert), so the read and the write are one round trip.
    const rows: { id: string; provider_account_id: string; inserted: boolean; balance: string; previous_balance: string | null }[] =
      await this.manager.query(
        `WITH previous AS (
           SELECT provider_account_id, balance::text AS balance FROM accounts WHERE app_id = $1 AND connection_id = $2
         ), upserted AS (
           INSERT INTO accounts (app_id, connection_id, provider_account_id, name, type, currency, balance, available_balance, last_updated_at)
           SELECT $1, $2, a.pid, a.name, a.type, a.currency, a.balance, a.available, $9
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[]) AS a(pid, name, type, currency, balance, available)
           ON CONFLICT (connection_id, provider_account_id) DO UPDATE SET
             name = EXCLUDED.name, type = EXCLUDED.type, currency = EXCLUDED.currency, balance = EXCLUDED.balance,
             available_balance = EXCLUDED.available_balance, last_updated_at = EXCLUDED.last_updated_at, updated_at = now()
           RETURNING id, provider_account_id, (xmax = 0) AS inserted, balance::text AS balance
         )
         SELECT u.id, u.provider_account_id, u.inserted, u.balance, p.balance AS previous_balance
         FROM upserted u LEFT JOIN previous p ON p.provider_account_id = u.provider_account_id
         ORDER BY array_position($3::text[], u.provider_account_id::text)`,
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
      // A new account has no previous balance.
      previousBalance: r.inserted ? null : r.previous_balance,
      balance: r.balance,
    }));
  }

  /**
   * Upserts the transactions of several accounts of one connection, all accounts' rows in one statement (up to
   * BATCH rows each): an import's 2,000 rows take one round trip rather than one per account. Results are by
   * account id, each in the order the rows were written.
   */
  async upsertTransactions(
    appId: string,
    connectionId: string,
    perAccount: readonly { accountId: string; transactions: readonly ProviderTransaction[] }[],
  ): Promise<Map<string, TransactionUpsert>> {
    const results = new Map<string, TransactionUpsert>(perAccount.map((a) => [a.accountId, { inserted: [], updated: [] }]));
    const rows = perAccount.flatMap(({ accountId, transactions }) =>
      [...new Map(transactions.map((t) => [t.id, t])).values()].map((t) => ({ accountId, t })),
    );
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      const written: { id: string; account_id: string; provider_transaction_id: string; inserted: boolean }[] = await this.manager.query(
        `INSERT INTO transactions (app_id, connection_id, account_id, provider_transaction_id, amount, currency, description, booked_at, status)
         SELECT $1, $2, t.account_id, t.pid, t.amount, t.currency, t.description, t.booked_at, t.status
         FROM unnest($3::uuid[], $4::text[], $5::numeric[], $6::text[], $7::text[], $8::timestamptz[], $9::text[])
              AS t(account_id, pid, amount, currency, description, booked_at, status)
         ON CONFLICT (account_id, provider_transaction_id) DO UPDATE SET
           amount = EXCLUDED.amount, currency = EXCLUDED.currency, description = EXCLUDED.description,
           booked_at = EXCLUDED.booked_at, status = EXCLUDED.status, updated_at = now()
         WHERE (transactions.amount, transactions.currency, transactions.description, transactions.booked_at, transactions.status)
               IS DISTINCT FROM (EXCLUDED.amount, EXCLUDED.currency, EXCLUDED.description, EXCLUDED.booked_at, EXCLUDED.status)
         RETURNING id, account_id, provider_transaction_id, (xmax = 0) AS inserted`,
        [
          appId,
          connectionId,
          batch.map((r) => r.accountId),
          batch.map((r) => r.t.id),
          batch.map((r) => r.t.amount),
          batch.map((r) => r.t.currency),
          batch.map((r) => r.t.description.slice(0, 1000)),
          batch.map((r) => r.t.bookedAt),
          batch.map((r) => r.t.status),
        ],
      );
      for (const r of written) {
        const result = results.get(r.account_id)!;
        (r.inserted ? result.inserted : result.updated).push({ id: r.id, providerTransactionId: r.provider_transaction_id });
      }
    }
    return results;
  }
}
