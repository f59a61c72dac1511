import type { EntityManager } from 'typeorm';
import type { Connection } from '../../entities/index.ts';
import { FinancialDataRepository, type AccountUpsert } from '../accounts/financial-data.repository.ts';
import type { Provider, ProviderContext, ProviderSession, ProviderTransaction } from '../providers/provider.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';
import { MAX_IDS, type TransactionFact } from '../webhooks/notification-rule.matcher.ts';

export type FetchedTransactions = { account: AccountUpsert; transactions: ProviderTransaction[] }[];

/** retrieve-transactions: each account's transactions since `since` (null: all the provider has). */
export async function fetchTransactions(
  provider: Provider,
  ctx: ProviderContext,
  session: ProviderSession,
  accounts: AccountUpsert[],
  since: Date | null,
): Promise<FetchedTransactions> {
  const perAccount: FetchedTransactions = [];
  for (const account of accounts) {
    perAccount.push({ account, transactions: await provider.listTransactions(ctx, session, account.providerAccountId, since) });
  }
  return perAccount;
}

/** Upserts transactions and announces the new ones (counts and ids; amounts go to notification rules only). */
export async function writeTransactions(
  m: EntityManager,
  connection: Connection,
  jobId: string,
  fetched: FetchedTransactions,
  now: () => Date,
): Promise<void> {
  const created: TransactionFact[] = [];
  let updated = 0;
  const byAccount: { accountId: string; count: number }[] = [];
  const results = await new FinancialDataRepository(m).upsertTransactions(
    connection.appId,
    connection.id,
    fetched.map(({ account, transactions }) => ({ accountId: account.id, transactions })),
  );
  for (const { account, transactions } of fetched) {
    const result = results.get(account.id)!;
    updated += result.updated.length;
    const byProviderId = new Map(transactions.map((t) => [t.id, t]));
    for (const row of result.inserted) {
      const t = byProviderId.get(row.providerTransactionId)!;
      created.push({
        id: row.id,
        accountId: account.id,
        amount: t.amount,
        currency: t.currency,
        description: t.description,
        bookedAt: new Date(t.bookedAt).toISOString(),
        status: t.status,
      });
    }
    if (result.inserted.length) byAccount.push({ accountId: account.id, count: result.inserted.length });
  }
  if (created.length === 0) return;
  const ids = created.slice(0, MAX_IDS).map((t) => t.id);
  await recordEvent(m, {
    appId: connection.appId,
    userId: connection.userId,
    connectionId: connection.id,
    // Read after the upserts, as the announcement of what they did.
    occurredAt: now(),
    type: 'transactions.new',
    data: {
      jobId,
      count: created.length,
      updatedCount: updated,
      byAccount,
      transactionIds: ids,
      truncated: ids.length < created.length,
    },
    facts: { transactions: created },
  });
}
