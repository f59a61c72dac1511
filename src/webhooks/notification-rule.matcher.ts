import type { NotificationRuleParams, NotificationTrigger } from '../../entities/index.ts';
import { compareDecimal } from '../providers/money.ts';

/**
 * What a notification rule can look at beyond an event's stored data: the amounts of new transactions are not
 * in `transactions.new` (it carries ids), but HIGH_TRANSACTION_AMOUNT needs them.
 */
export interface RuleFacts {
  accounts?: AccountFact[];
  transactions?: TransactionFact[];
}

export interface AccountFact {
  accountId: string;
  currency: string;
  balance: string;
  /** Null for an account seen for the first time. */
  previousBalance: string | null;
}

export interface TransactionFact {
  id: string;
  accountId: string;
  amount: string;
  currency: string;
  description: string;
  bookedAt: string;
  status: string;
}

export interface RuleLike {
  id: string;
  triggerEvent: NotificationTrigger;
  params: NotificationRuleParams;
  connectionIds: string[] | null;
  includeDetails: boolean;
}

export interface SourceEvent {
  id: string;
  type: string;
  connectionId: string | null;
  data: Record<string, unknown>;
}

/** The event types each trigger listens to. */
export const TRIGGER_SOURCES: Record<NotificationTrigger, readonly string[]> = {
  NEW_ACCOUNT_BALANCE: ['account.balance_changed'],
  LOW_ACCOUNT_BALANCE: ['account.balance_changed', 'accounts.new'],
  NEW_TRANSACTIONS: ['transactions.new'],
  HIGH_TRANSACTION_AMOUNT: ['transactions.new'],
  BANK_LOGIN_ERROR: ['connection.error'],
  CONNECTION_STATUS_CHANGED: ['connection.status_changed'],
};

export function triggersFor(eventType: string): NotificationTrigger[] {
  return (Object.keys(TRIGGER_SOURCES) as NotificationTrigger[]).filter((t) => TRIGGER_SOURCES[t].includes(eventType));
}

/** Ids listed in a notification without details are capped; `count` always says how many there were. */
export const MAX_IDS = 1000;

/**
 * The data of the `notification.<TRIGGER>` event a rule sends for an event, or null when the rule does not fire.
 * LOW_ACCOUNT_BALANCE fires when a balance goes below the threshold (not again while it stays below);
 * HIGH_TRANSACTION_AMOUNT fires for new transactions whose absolute amount is at least the threshold.
 */
export function evaluateRule(rule: RuleLike, event: SourceEvent, facts: RuleFacts): Record<string, unknown> | null {
  if (!TRIGGER_SOURCES[rule.triggerEvent].includes(event.type)) return null;
  if (rule.connectionIds && (!event.connectionId || !rule.connectionIds.includes(event.connectionId))) return null;
  const base = { ruleId: rule.id, triggerEvent: rule.triggerEvent, sourceEventId: event.id, connectionId: event.connectionId };
  const onAccounts = (a: { accountId: string }) => !rule.params.accountIds || rule.params.accountIds.includes(a.accountId);

  switch (rule.triggerEvent) {
    case 'NEW_ACCOUNT_BALANCE':
    case 'LOW_ACCOUNT_BALANCE': {
      const threshold = rule.params.threshold;
      const accounts = (facts.accounts ?? []).filter(onAccounts).filter((a) => {
        if (rule.triggerEvent === 'NEW_ACCOUNT_BALANCE') return true;
        const below = compareDecimal(a.balance, threshold!) < 0;
        const wasBelow = a.previousBalance !== null && compareDecimal(a.previousBalance, threshold!) < 0;
        return below && !wasBelow;
      });
      if (accounts.length === 0) return null;
      return rule.includeDetails
        ? { ...base, ...(threshold !== undefined ? { threshold } : {}), accounts }
        : { ...base, accountIds: accounts.map((a) => a.accountId) };
    }
    case 'NEW_TRANSACTIONS':
    case 'HIGH_TRANSACTION_AMOUNT': {
      const threshold = rule.params.threshold;
      const transactions = (facts.transactions ?? [])
        .filter(onAccounts)
        .filter((t) => rule.triggerEvent === 'NEW_TRANSACTIONS' || compareDecimal(abs(t.amount), threshold!) >= 0);
      if (transactions.length === 0) return null;
      const shown = transactions.slice(0, MAX_IDS);
      return rule.includeDetails
        ? {
            ...base,
            ...(threshold !== undefined ? { threshold } : {}),
            count: transactions.length,
            transactions: shown,
            truncated: shown.length < transactions.length,
          }
        : { ...base, count: transactions.length, transactionIds: shown.map((t) => t.id), truncated: shown.length < transactions.length };
    }
    case 'BANK_LOGIN_ERROR':
    case 'CONNECTION_STATUS_CHANGED': {
      if (rule.triggerEvent === 'BANK_LOGIN_ERROR' && !isLoginError(event.data)) return null;
      return rule.includeDetails ? { ...base, ...event.data } : base;
    }
  }
}

/** A failure the user must fix by logging in again (credentials, a challenge, a consent), not a technical one. */
function isLoginError(data: Record<string, unknown>): boolean {
  const connection = data.connection as { userActionRequired?: boolean } | undefined;
  return connection?.userActionRequired === true;
}

const abs = (d: string) => (d.startsWith('-') ? d.slice(1) : d);
