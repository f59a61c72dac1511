import pg from 'pg';
import type { ProviderAccount, ProviderTransaction } from '../../src/providers/provider.ts';
import { SandboxProvider } from '../../src/providers/sandbox/sandbox.provider.ts';

/** What one import writes: the provider's accounts and, by provider account id, their transactions. */
export interface ImportData {
  accounts: ProviderAccount[];
  transactions: Map<string, ProviderTransaction[]>;
}

/**
 * The sandbox provider's output for one connection, as a worker's import fetches it (verify, accounts, then each
 * account's transactions since the beginning), so the floor writes the very rows the service writes.
 */
export async function sandboxImport(
  institutionId: string,
  credentials: Record<string, string>,
  connectionId: string,
  now: Date,
): Promise<ImportData> {
  const provider = new SandboxProvider();
  const ctx = {
    institution: { id: institutionId, providerKey: 'sandbox', providerUrl: null },
    connection: { id: connectionId, reference: null, name: null },
    credentials,
    attempt: 1,
    now,
  };
  const session = await provider.verifyCredentials(ctx);
  const accounts = await provider.listAccounts(ctx);
  const transactions = new Map<string, ProviderTransaction[]>();
  for (const a of accounts) transactions.set(a.id, await provider.listTransactions(ctx, session, a.id, null));
  return { accounts, transactions };
}

/** Rows per multi-row INSERT of transactions (9 parameters a row, well under PostgreSQL's 65,535). */
const TRANSACTION_ROWS_PER_STATEMENT = 1_000;

const ACCOUNT_COLUMNS = 9;
const TRANSACTION_COLUMNS = 9;

/** `($1, $2, …), (…)` for `rows` rows of `columns` parameters. */
function valuesList(rows: number, columns: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p: string[] = [];
    for (let c = 1; c <= columns; c++) p.push(`$${r * columns + c}`);
    out.push(`(${p.join(', ')})`);
  }
  return out.join(', ');
}

/**
 * The refresh floor: a bare `pg` loop that writes, for each connection, the same accounts and transactions the
 * service's import writes, into the same tables (same indexes and constraints), with multi-row
 * `INSERT … ON CONFLICT DO UPDATE`: one statement for the accounts (RETURNING their ids, which the transactions
 * reference), then the transactions 1,000 rows a statement, all in one transaction per connection. `concurrency`
 * connections are written at once, each on its own pooled client (connected before the clock starts).
 */
export async function runRefreshFloor(
  url: string,
  connections: { appId: string; connectionId: string }[],
  data: ImportData,
  concurrency: number,
  now: Date,
): Promise<{ seconds: number; rows: number }> {
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  try {
    // Warm: every client connected, as a worker's pool is once it runs.
    const clients = await Promise.all(Array.from({ length: concurrency }, () => pool.connect()));
    for (const c of clients) c.release();
    const accountsSql = `INSERT INTO accounts (app_id, connection_id, provider_account_id, name, type, currency, balance, available_balance, last_updated_at)
       VALUES ${valuesList(data.accounts.length, ACCOUNT_COLUMNS)}
       ON CONFLICT (connection_id, provider_account_id) DO UPDATE SET
         name = EXCLUDED.name, type = EXCLUDED.type, currency = EXCLUDED.currency, balance = EXCLUDED.balance,
         available_balance = EXCLUDED.available_balance, last_updated_at = EXCLUDED.last_updated_at, updated_at = now()
       RETURNING id, provider_account_id`;
    const transactionsSql = (
      rows: number,
    ) => `INSERT INTO transactions (app_id, connection_id, account_id, provider_transaction_id, amount, currency, description, booked_at, status)
       VALUES ${valuesList(rows, TRANSACTION_COLUMNS)}
       ON CONFLICT (account_id, provider_transaction_id) DO UPDATE SET
         amount = EXCLUDED.amount, currency = EXCLUDED.currency, description = EXCLUDED.description,
         booked_at = EXCLUDED.booked_at, status = EXCLUDED.status, updated_at = now()`;
    const fullChunkSql = transactionsSql(TRANSACTION_ROWS_PER_STATEMENT);

    let written = 0;
    const writeOne = async (appId: string, connectionId: string) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const accountParams: unknown[] = [];
        for (const a of data.accounts)
          accountParams.push(appId, connectionId, a.id, a.name, a.type, a.currency, a.balance, a.availableBalance, now);
        const { rows: accounts } = await client.query<{ id: string; provider_account_id: string }>(accountsSql, accountParams);
        const accountIds = new Map(accounts.map((r) => [r.provider_account_id, r.id]));
        const all: unknown[][] = [];
        for (const [providerAccountId, transactions] of data.transactions) {
          const accountId = accountIds.get(providerAccountId)!;
          for (const t of transactions)
            all.push([appId, connectionId, accountId, t.id, t.amount, t.currency, t.description, t.bookedAt, t.status]);
        }
        for (let i = 0; i < all.length; i += TRANSACTION_ROWS_PER_STATEMENT) {
          const chunk = all.slice(i, i + TRANSACTION_ROWS_PER_STATEMENT);
          await client.query(chunk.length === TRANSACTION_ROWS_PER_STATEMENT ? fullChunkSql : transactionsSql(chunk.length), chunk.flat());
        }
        await client.query('COMMIT');
        written += accounts.length + all.length;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    };

    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < connections.length) {
          const c = connections[next++]!;
          await writeOne(c.appId, c.connectionId);
        }
      }),
    );
    return { seconds: (performance.now() - t0) / 1000, rows: written };
  } finally {
    await pool.end();
  }
}
