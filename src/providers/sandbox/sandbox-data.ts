import { createHash } from 'node:crypto';
import type { AccountType, ProviderAccount, ProviderTransaction } from '../provider.ts';
import { formatMinor } from '../money.ts';

// Deterministic bank data per (institution, loginId): the same inputs and time always give the same accounts,
// balances and transactions, and a later time gives more transactions and moved balances, so refreshes have
// something new to find. Transactions are laid on a fixed timeline from EPOCH; the last two days' are pending
// and post later under the same id.

const EPOCH = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How far back a first import reaches. */
export const HISTORY_DAYS = 90;
const PENDING_DAYS = 2;

export interface SandboxProfile {
  accounts: number;
  /** Hours between two transactions of one account. */
  periodHours: number;
}

export const NORMAL_PROFILE: SandboxProfile = { accounts: 3, periodHours: 36 };
/** The "large" user: 25 accounts with about 200 transactions each in the 90-day window. */
export const LARGE_PROFILE: SandboxProfile = { accounts: 25, periodHours: 10.8 };
/** The "medium" user (the benchmark's): 10 accounts with about 200 transactions each. */
export const MEDIUM_PROFILE: SandboxProfile = { accounts: 10, periodHours: 10.8 };

const seedOf = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest();

/** A small deterministic PRNG value in [0, 1) for a key. */
function unit(...parts: (string | number)[]): number {
  return seedOf(...parts.map(String)).readUInt32BE(0) / 2 ** 32;
}

const ACCOUNT_KINDS: { type: AccountType; name: string }[] = [
  { type: 'transaction', name: 'Everyday Account' },
  { type: 'savings', name: 'Goal Saver' },
  { type: 'credit-card', name: 'Platinum Card' },
  { type: 'loan', name: 'Personal Loan' },
  { type: 'mortgage', name: 'Home Loan' },
];

const MERCHANTS = [
  'Woolworths',
  'Coles',
  'Uber *Trip',
  'Netflix.com',
  'Shell Service Station',
  'Spotify',
  'Bunnings Warehouse',
  'JB Hi-Fi',
  'Telstra Bill',
  'Origin Energy',
  'Qantas Airways',
  'Local Cafe',
  'Pharmacy',
  'Amazon Marketplace',
];

export interface SandboxUser {
  institutionId: string;
  loginId: string;
  profile: SandboxProfile;
}

interface AccountPlan {
  id: string;
  index: number;
  type: AccountType;
  name: string;
  openingMinor: number;
  /** Offset of the first transaction from EPOCH, so accounts don't tick in step. */
  phaseMs: number;
}

function accountPlans(user: SandboxUser): AccountPlan[] {
  const key = seedOf(user.institutionId, user.loginId).toString('hex').slice(0, 10);
  return Array.from({ length: user.profile.accounts }, (_, index) => {
    const kind = ACCOUNT_KINDS[index % ACCOUNT_KINDS.length]!;
    return {
      id: `sbx-${key}-${index + 1}`,
      index,
      type: kind.type,
      name: user.profile.accounts > ACCOUNT_KINDS.length ? `${kind.name} ${index + 1}` : kind.name,
      openingMinor: Math.round(unit(user.loginId, index, 'opening') * 500_000) + 10_000,
      phaseMs: Math.round(unit(user.loginId, index, 'phase') * user.profile.periodHours * HOUR),
    };
  });
}

const bookedAt = (user: SandboxUser, plan: AccountPlan, k: number) => EPOCH + plan.phaseMs + k * user.profile.periodHours * HOUR;

function transactionAt(user: SandboxUser, plan: AccountPlan, k: number, now: number): ProviderTransaction {
  const r = unit(user.loginId, plan.index, k);
  const credit = r < 0.12; // salary, refunds, transfers in
  const magnitude = credit ? 50_000 + Math.round(r * 1_000_000) : 300 + Math.round(unit(user.loginId, plan.index, k, 'amt') * 25_000);
  const booked = bookedAt(user, plan, k);
  return {
    id: `${plan.id}-t${k}`,
    accountId: plan.id,
    amount: formatMinor(credit ? magnitude : -magnitude),
    currency: 'AUD',
    description: credit ? 'Salary / transfer in' : MERCHANTS[Math.floor(r * MERCHANTS.length)]!,
    bookedAt: new Date(booked),
    status: booked > now - PENDING_DAYS * DAY ? 'pending' : 'posted',
  };
}

/** Index of the last transaction booked at or before `now`. */
const lastIndex = (user: SandboxUser, plan: AccountPlan, now: number) =>
  Math.floor((now - EPOCH - plan.phaseMs) / (user.profile.periodHours * HOUR));

const toMinor = (amount: string) => Math.round(Number(amount.replace('.', '')));

/** Running totals of an account's transaction amounts in minor units: `[k]` is the sum over transactions 0..k. */
const runningTotals = new Map<string, number[]>();
/** Accounts whose running totals are kept (a bench or test uses a handful; any loginId may reach the sandbox). */
const RUNNING_TOTALS_KEPT = 256;

/**
 * The sum of the amounts of transactions 0..k of an account. An amount depends on the login and the account's
 * index only (not on the time or the institution), so the sums are computed once and extended as time adds
 * transactions: a balance no longer hashes every transaction since EPOCH (some 1,500 per account by late 2026,
 * two hashes each) on every listAccounts.
 */
function amountsThrough(user: SandboxUser, plan: AccountPlan, k: number): number {
  if (k < 0) return 0;
  const key = `${user.loginId}\u0000${plan.index}`;
  let totals = runningTotals.get(key);
  if (!totals) {
    if (runningTotals.size >= RUNNING_TOTALS_KEPT) runningTotals.delete(runningTotals.keys().next().value!);
    totals = [];
    runningTotals.set(key, totals);
  }
  for (let j = totals.length; j <= k; j++) totals.push((totals[j - 1] ?? 0) + toMinor(transactionAt(user, plan, j, 0).amount));
  return totals[k]!;
}

export function sandboxAccounts(user: SandboxUser, now: Date): ProviderAccount[] {
  const at = now.getTime();
  const postedBefore = at - PENDING_DAYS * DAY;
  return accountPlans(user).map((plan) => {
    const last = lastIndex(user, plan, at);
    // Transactions are booked in order of k, so the posted ones (booked at or before postedBefore) are a prefix.
    let lastPosted = Math.min(last, lastIndex(user, plan, postedBefore));
    while (lastPosted < last && bookedAt(user, plan, lastPosted + 1) <= postedBefore) lastPosted++;
    while (lastPosted >= 0 && bookedAt(user, plan, lastPosted) > postedBefore) lastPosted--;
    const postedMinor = plan.openingMinor + amountsThrough(user, plan, lastPosted);
    const pendingMinor = amountsThrough(user, plan, last) - amountsThrough(user, plan, lastPosted);
    return {
      id: plan.id,
      name: plan.name,
      type: plan.type,
      currency: 'AUD',
      balance: formatMinor(postedMinor),
      availableBalance: formatMinor(postedMinor + pendingMinor),
    };
  });
}

export function sandboxTransactions(user: SandboxUser, accountId: string, since: Date | null, now: Date): ProviderTransaction[] {
  const plan = accountPlans(user).find((p) => p.id === accountId);
  if (!plan) return [];
  const from = Math.max(since?.getTime() ?? 0, now.getTime() - HISTORY_DAYS * DAY);
  const first = Math.max(0, Math.ceil((from - EPOCH - plan.phaseMs) / (user.profile.periodHours * HOUR)));
  const out: ProviderTransaction[] = [];
  for (let k = first; k <= lastIndex(user, plan, now.getTime()); k++) out.push(transactionAt(user, plan, k, now.getTime()));
  return out;
}
