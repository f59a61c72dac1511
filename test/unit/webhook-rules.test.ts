import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { describeDuration, parseDuration, retryDelayMs } from '../../src/webhooks/delivery-schedule.ts';
import { compareDecimal } from '../../src/providers/money.ts';
import { evaluateRule, type RuleLike } from '../../src/webhooks/notification-rule.matcher.ts';
import { generateSecret, signatureHeaders } from '../../src/webhooks/webhook-signer.ts';

const rule = (over: Partial<RuleLike>): RuleLike => ({
  id: 'r1',
  triggerEvent: 'LOW_ACCOUNT_BALANCE',
  params: {},
  connectionIds: null,
  includeDetails: true,
  ...over,
});
const balanceEvent = { id: 'e1', type: 'account.balance_changed', connectionId: 'c1', data: {} };

describe('retry schedule', () => {
  it('waits per the schedule with ±10% jitter, then gives up', () => {
    const schedule = [5_000, 300_000];
    expect(retryDelayMs(schedule, 1, () => 0)).toBe(4_500);
    expect(retryDelayMs(schedule, 1, () => 1)).toBe(5_500);
    expect(retryDelayMs(schedule, 2, () => 0.5)).toBe(300_000);
    expect(retryDelayMs(schedule, 3)).toBeNull();
  });
  it('reads durations with units', () => {
    expect(['250ms', '5s', '30m', '2h', '5d'].map(parseDuration)).toEqual([250, 5_000, 1_800_000, 7_200_000, 432_000_000]);
    expect(parseDuration('5 minutes')).toBeNull();
  });
  it('says a duration in words, in the unit that fits (an endpoint disabled after 2 s is not "0 days")', () => {
    expect([432_000_000, 86_400_000, 129_600_000, 7_200_000, 90_000, 2_000, 1_000, 250].map(describeDuration)).toEqual([
      '5 days',
      '1 day',
      '1.5 days',
      '2 hours',
      '1.5 minutes',
      '2 seconds',
      '1 second',
      '250 milliseconds',
    ]);
  });
});

describe('decimal comparison', () => {
  it('compares money exactly, whatever the scale', () => {
    expect(compareDecimal('100.0000', '100')).toBe(0);
    expect(compareDecimal('99.9999', '100')).toBe(-1);
    expect(compareDecimal('-0.01', '0')).toBe(-1);
    expect(compareDecimal('-5', '-4.99')).toBe(-1);
    expect(compareDecimal('10', '9.99')).toBe(1);
    expect(compareDecimal('-0.00', '0')).toBe(0);
  });
});

describe('notification rules', () => {
  const account = (balance: string, previousBalance: string | null) => ({ accountId: 'a1', currency: 'AUD', balance, previousBalance });

  it('LOW_ACCOUNT_BALANCE fires when a balance goes below the threshold, not while it stays below', () => {
    const low = rule({ params: { threshold: '100' } });
    expect(evaluateRule(low, balanceEvent, { accounts: [account('99.99', '150')] })).toMatchObject({ accounts: [{ accountId: 'a1' }] });
    expect(evaluateRule(low, balanceEvent, { accounts: [account('100', '150')] })).toBeNull();
    expect(evaluateRule(low, balanceEvent, { accounts: [account('50', '80')] })).toBeNull();
    expect(evaluateRule(low, { ...balanceEvent, type: 'accounts.new' }, { accounts: [account('50', null)] })).not.toBeNull();
  });

  it('HIGH_TRANSACTION_AMOUNT takes the absolute amount, threshold included; ids only without details', () => {
    const tx = (id: string, amount: string) => ({
      id,
      accountId: 'a1',
      amount,
      currency: 'AUD',
      description: 'x',
      bookedAt: '2026-01-01',
      status: 'posted',
    });
    const high = rule({ triggerEvent: 'HIGH_TRANSACTION_AMOUNT', params: { threshold: '500' }, includeDetails: false });
    const fired = evaluateRule(
      high,
      { ...balanceEvent, type: 'transactions.new' },
      { transactions: [tx('t1', '-500.00'), tx('t2', '499.99'), tx('t3', '800')] },
    );
    expect(fired).toEqual({
      ruleId: 'r1',
      triggerEvent: 'HIGH_TRANSACTION_AMOUNT',
      sourceEventId: 'e1',
      connectionId: 'c1',
      count: 2,
      transactionIds: ['t1', 't3'],
      truncated: false,
    });
  });

  it('honours the connection scope and account filter', () => {
    const scoped = rule({ triggerEvent: 'NEW_ACCOUNT_BALANCE', connectionIds: ['c2'] });
    expect(evaluateRule(scoped, balanceEvent, { accounts: [account('1', '2')] })).toBeNull();
    const onOther = rule({ triggerEvent: 'NEW_ACCOUNT_BALANCE', params: { accountIds: ['a2'] } });
    expect(evaluateRule(onOther, balanceEvent, { accounts: [account('1', '2')] })).toBeNull();
  });

  it('BANK_LOGIN_ERROR only for errors the user must fix', () => {
    const login = rule({ triggerEvent: 'BANK_LOGIN_ERROR' });
    const errorEvent = (userActionRequired: boolean) => ({
      ...balanceEvent,
      type: 'connection.error',
      data: { connection: { userActionRequired } },
    });
    expect(evaluateRule(login, errorEvent(true), {})).not.toBeNull();
    expect(evaluateRule(login, errorEvent(false), {})).toBeNull();
  });
});

describe('signing', () => {
  it('signs with every given secret; the standardwebhooks package verifies with either', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const body = JSON.stringify({ type: 'webhook.test' });
    const headers = signatureHeaders('evt-1', new Date(), body, [a, b]);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(a).verify(body, headers)).toEqual({ type: 'webhook.test' });
    expect(new Webhook(b).verify(body, headers)).toEqual({ type: 'webhook.test' });
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(a).verify(`${body} `, headers)).toThrow();
  });
});
