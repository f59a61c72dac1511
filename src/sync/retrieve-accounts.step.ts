import type { EntityManager } from 'typeorm';
import type { Connection } from '../../entities/index.ts';
import { FinancialDataRepository, type AccountUpsert } from '../accounts/financial-data.repository.ts';
import { compareDecimal, presentMoney } from '../providers/money.ts';
import type { Provider, ProviderAccount, ProviderContext, ProviderSession } from '../providers/provider.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';

/** retrieve-accounts: the provider's accounts with their balances. */
export function fetchAccounts(provider: Provider, ctx: ProviderContext, session: ProviderSession): Promise<ProviderAccount[]> {
  return provider.listAccounts(ctx, session);
}

/** Upserts accounts and announces the new ones and every changed balance. */
export async function writeAccounts(
  m: EntityManager,
  connection: Connection,
  jobId: string,
  fetched: ProviderAccount[],
  now: Date,
): Promise<AccountUpsert[]> {
  const upserted = await new FinancialDataRepository(m).upsertAccounts(connection.appId, connection.id, fetched, now);
  const currency = new Map(fetched.map((a) => [a.id, a.currency]));
  const facts = upserted.map((a) => ({
    accountId: a.id,
    currency: currency.get(a.providerAccountId) ?? '',
    balance: presentMoney(a.balance),
    previousBalance: a.previousBalance === null ? null : presentMoney(a.previousBalance),
  }));
  const base = { appId: connection.appId, userId: connection.userId, connectionId: connection.id, occurredAt: now };
  const created = facts.filter((_, i) => upserted[i]!.inserted);
  if (created.length) {
    await recordEvent(m, {
      ...base,
      type: 'accounts.new',
      data: { jobId, count: created.length, accountIds: created.map((a) => a.accountId), accounts: created },
      facts: { accounts: created },
    });
  }
  for (const fact of facts) {
    if (fact.previousBalance === null || compareDecimal(fact.previousBalance, fact.balance) === 0) continue;
    await recordEvent(m, {
      ...base,
      type: 'account.balance_changed',
      data: { jobId, ...fact },
      facts: { accounts: [fact] },
    });
  }
  return upserted;
}
