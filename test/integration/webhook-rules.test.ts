import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import type { DeliveryWorker } from '../../src/webhooks/delivery.worker.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { rejection, runUntilSettled, startTestService, type TestService } from '../helpers/test-service.ts';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

// Notification rules through the API, fired by the real flows (API → job runner → sandbox provider) and delivered
// over HTTP to a receiver that verifies every request with the standardwebhooks package. The sandbox is deterministic
// per (institution, loginId): a second connection with the same loginId, run at the same simulated time, gets the
// same balances and amounts as the first, so the first tells us where the thresholds sit.

const DAY = 86_400_000;
let service: TestService;
let clock: ManualClock;
let runner: JobRunner;
let worker: DeliveryWorker;
let app: TestApp;
let receiver: WebhookReceiver;
let endpointId: string;

type Trigger = Parameters<TestApp['client']['notificationRules']['create']['mutate']>[0]['triggerEvent'];

async function settle() {
  await runUntilSettled(service, runner, clock);
  await worker.drain();
}

beforeAll(async () => {
  clock = new ManualClock('2026-03-01T00:00:00.000Z');
  service = await startTestService({ clock });
  runner = service.runner();
  worker = service.deliveryWorker();
  app = await createTestApp(service);
  receiver = await startWebhookReceiver();
  // Notifications go to the rule's endpoint whatever its filters; this one takes nothing else, to keep it quiet.
  const created = await app.client.webhooks.endpoints.create.mutate({ url: receiver.url, eventTypes: ['notification.*'] });
  receiver.secrets = [created.secret];
  endpointId = created.endpoint.id;
});

afterAll(async () => {
  await receiver?.close();
  await service?.close();
});

/** What the receiver got for one rule; every request it got must have verified. */
function notificationsOf(ruleId: string): ReceivedWebhook[] {
  const unverified = receiver.received.filter((r) => !r.verified);
  expect(unverified.map((r) => r.problem)).toEqual([]);
  return receiver.received.filter((r) => r.json?.data?.ruleId === ruleId);
}

function createRule(triggerEvent: Trigger, params: Record<string, unknown>, connectionIds: string[] | undefined, includeDetails = true) {
  return app.client.notificationRules.create.mutate({ triggerEvent, params, connectionIds, endpointId, includeDetails });
}

async function importConnection(loginId: string, userId?: string) {
  const { connection } = await app.client.connections.create.mutate(
    connectionInput({ ...(userId ? { userId } : {}), credentials: { loginId, password: 'pw' } }),
  );
  return connection.id;
}

async function allTransactions(connectionId: string) {
  const out: Awaited<ReturnType<TestApp['client']['transactions']['list']['query']>>['items'] = [];
  let cursor: string | undefined;
  do {
    const page = await app.client.transactions.list.query({ connectionId, cursor, limit: 500 });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

/** An exact decimal string in cents (money here has two decimals; numeric columns may show four). */
function cents(d: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,4}))?$/.exec(d);
  if (!m) throw new Error(`not a decimal: ${d}`);
  const frac = (m[3] ?? '').padEnd(4, '0');
  expect(frac.slice(2)).toBe('00');
  const v = BigInt(m[2]!) * 100n + BigInt(frac.slice(0, 2));
  return m[1] ? -v : v;
}
const decimal = (c: bigint) => `${c < 0n ? '-' : ''}${(c < 0n ? -c : c) / 100n}.${((c < 0n ? -c : c) % 100n).toString().padStart(2, '0')}`;
const absCents = (d: string) => (cents(d) < 0n ? -cents(d) : cents(d));
const sorted = (ids: Iterable<string>) => [...ids].sort();
/** Every key anywhere in a JSON value. */
const keysDeep = (v: unknown): string[] =>
  Array.isArray(v) ? v.flatMap(keysDeep) : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...keysDeep(x)]) : [];

describe('notification rules fired by real refreshes', () => {
  it('honours thresholds on both sides: strictly below for LOW_ACCOUNT_BALANCE, at least for HIGH_TRANSACTION_AMOUNT', async () => {
    // Connection A, with no rules, tells us the sandbox's balances and amounts for this loginId at this time.
    const aId = await importConnection('rules-user');
    await settle();
    const accountsA = await app.client.accounts.list.query({ connectionId: aId });
    const transactionsA = await allTransactions(aId);
    expect(accountsA.length).toBeGreaterThan(1);
    expect(transactionsA.length).toBeGreaterThan(10);
    const minBalance = accountsA.map((a) => cents(a.balance)).reduce((x, y) => (y < x ? y : x));
    const maxAbs = transactionsA.map((t) => absCents(t.amount)).reduce((x, y) => (y > x ? y : x));
    // The thresholds below are meaningful only if not every account sits at the minimum, nor every amount at the maximum.
    expect(accountsA.some((a) => cents(a.balance) > minBalance)).toBe(true);
    expect(transactionsA.some((t) => absCents(t.amount) < maxAbs)).toBe(true);

    // Connection B, same loginId, created but not yet run; rules scoped to it.
    const bId = await importConnection('rules-user');
    const lowAt = await createRule('LOW_ACCOUNT_BALANCE', { threshold: decimal(minBalance) }, [bId]);
    const lowAbove = await createRule('LOW_ACCOUNT_BALANCE', { threshold: decimal(minBalance + 1n) }, [bId]);
    const lowAboveIds = await createRule('LOW_ACCOUNT_BALANCE', { threshold: decimal(minBalance + 1n) }, [bId], false);
    const highAt = await createRule('HIGH_TRANSACTION_AMOUNT', { threshold: decimal(maxAbs) }, [bId]);
    const highAtIds = await createRule('HIGH_TRANSACTION_AMOUNT', { threshold: decimal(maxAbs) }, [bId], false);
    const highAbove = await createRule('HIGH_TRANSACTION_AMOUNT', { threshold: decimal(maxAbs + 1n) }, [bId]);
    expect(lowAbove).toMatchObject({
      triggerEvent: 'LOW_ACCOUNT_BALANCE',
      params: { threshold: decimal(minBalance + 1n) },
      connectionIds: [bId],
      endpointId,
      includeDetails: true,
    });
    await settle();

    // B really holds what A does (else the thresholds would prove nothing).
    const accountsB = await app.client.accounts.list.query({ connectionId: bId });
    const transactionsB = await allTransactions(bId);
    expect(accountsB.map((a) => [a.providerId, a.balance])).toEqual(accountsA.map((a) => [a.providerId, a.balance]));
    expect(sorted(transactionsB.map((t) => `${t.providerId} ${t.amount}`))).toEqual(
      sorted(transactionsA.map((t) => `${t.providerId} ${t.amount}`)),
    );
    const lowestB = accountsB.filter((a) => cents(a.balance) === minBalance).map((a) => a.id);
    const largestB = transactionsB.filter((t) => absCents(t.amount) === maxAbs);

    // LOW_ACCOUNT_BALANCE: a balance equal to the threshold is not below it; one cent above, exactly the lowest account.
    expect(notificationsOf(lowAt.id)).toEqual([]);
    const [low, ...moreLow] = notificationsOf(lowAbove.id);
    expect(moreLow).toEqual([]);
    expect(low!.json).toMatchObject({
      type: 'notification.LOW_ACCOUNT_BALANCE',
      connectionId: bId,
      data: { ruleId: lowAbove.id, triggerEvent: 'LOW_ACCOUNT_BALANCE', connectionId: bId, threshold: decimal(minBalance + 1n) },
    });
    const lowAccounts = low!.json.data.accounts as {
      accountId: string;
      balance: string;
      previousBalance: string | null;
      currency: string;
    }[];
    expect(sorted(lowAccounts.map((a) => a.accountId))).toEqual(sorted(lowestB));
    for (const a of lowAccounts) {
      expect(cents(a.balance)).toBe(minBalance);
      expect(a).toMatchObject({ previousBalance: null, currency: 'AUD' });
    }
    // Without details: the ids only, no balances.
    const [lowIds, ...moreLowIds] = notificationsOf(lowAboveIds.id);
    expect(moreLowIds).toEqual([]);
    expect(sorted(lowIds!.json.data.accountIds)).toEqual(sorted(lowestB));
    expect(Object.keys(lowIds!.json.data).sort()).toEqual(['accountIds', 'connectionId', 'ruleId', 'sourceEventId', 'triggerEvent']);
    expect(keysDeep(lowIds!.json).filter((k) => /balance|threshold|accounts/i.test(k))).toEqual([]);

    // HIGH_TRANSACTION_AMOUNT: at the largest absolute amount, exactly those transactions; one cent more, never.
    const [high, ...moreHigh] = notificationsOf(highAt.id);
    expect(moreHigh).toEqual([]);
    expect(high!.json).toMatchObject({
      type: 'notification.HIGH_TRANSACTION_AMOUNT',
      connectionId: bId,
      data: {
        ruleId: highAt.id,
        triggerEvent: 'HIGH_TRANSACTION_AMOUNT',
        connectionId: bId,
        threshold: decimal(maxAbs),
        count: largestB.length,
        truncated: false,
      },
    });
    const highTransactions = high!.json.data.transactions as { id: string; accountId: string; amount: string }[];
    expect(sorted(highTransactions.map((t) => t.id))).toEqual(sorted(largestB.map((t) => t.id)));
    for (const t of highTransactions) {
      const stored = largestB.find((s) => s.id === t.id)!;
      expect(cents(t.amount)).toBe(cents(stored.amount));
      expect(t.accountId).toBe(stored.accountId);
    }
    const [highIds, ...moreHighIds] = notificationsOf(highAtIds.id);
    expect(moreHighIds).toEqual([]);
    expect(highIds!.json.data).toMatchObject({ count: largestB.length, truncated: false });
    expect(sorted(highIds!.json.data.transactionIds)).toEqual(sorted(largestB.map((t) => t.id)));
    expect(Object.keys(highIds!.json.data).sort()).toEqual([
      'connectionId',
      'count',
      'ruleId',
      'sourceEventId',
      'transactionIds',
      'triggerEvent',
      'truncated',
    ]);
    expect(keysDeep(highIds!.json).filter((k) => /amount|threshold|transactions/i.test(k))).toEqual([]);
    expect(highIds!.body).not.toContain(`"${largestB[0]!.amount}"`);
    expect(notificationsOf(highAbove.id)).toEqual([]);

    // The source event each notification names is the one that caused it, and the stream holds the notifications too.
    const sources = await app.client.events.list.query({ connectionId: bId, types: ['accounts.new', 'transactions.new'], limit: 500 });
    expect(sources.items.find((e) => e.id === low!.json.data.sourceEventId)?.type).toBe('accounts.new');
    expect(sources.items.find((e) => e.id === high!.json.data.sourceEventId)?.type).toBe('transactions.new');
    const streamed = await app.client.events.list.query({
      types: ['notification.LOW_ACCOUNT_BALANCE', 'notification.HIGH_TRANSACTION_AMOUNT'],
      limit: 500,
    });
    expect(sorted(streamed.items.map((e) => e.id))).toEqual(sorted([low!, lowIds!, high!, highIds!].map((r) => r.webhookId)));
  });

  it('NEW_ACCOUNT_BALANCE, NEW_TRANSACTIONS (optionally per account), BANK_LOGIN_ERROR and CONNECTION_STATUS_CHANGED', async () => {
    // C imports fine; T ('timeout') fails for technical reasons after the runner's retries.
    const cId = await importConnection('rules-lifecycle');
    const tId = await importConnection('timeout');
    const statusRule = await createRule('CONNECTION_STATUS_CHANGED', {}, [cId]);
    const loginRule = await createRule('BANK_LOGIN_ERROR', {}, [cId, tId]);
    await settle();

    // INITIATED → ACTIVE, with the connection as it now is.
    const [status, ...moreStatus] = notificationsOf(statusRule.id);
    expect(moreStatus).toEqual([]);
    expect(status!.json).toMatchObject({
      type: 'notification.CONNECTION_STATUS_CHANGED',
      connectionId: cId,
      data: { ruleId: statusRule.id, previousStatus: 'INITIATED', status: 'ACTIVE', connection: { id: cId, status: 'ACTIVE' } },
    });

    // T failed with a technical error: a connection.error was recorded, but it is not a login error.
    const tErrors = await app.client.events.list.query({ connectionId: tId, types: ['connection.error'] });
    expect(tErrors.items).toHaveLength(1);
    expect(tErrors.items[0]!.data).toMatchObject({
      error: { category: 'technical', code: 'provider-timeout' },
      connection: { userActionRequired: false },
    });
    expect(notificationsOf(loginRule.id)).toEqual([]);

    // Rules created after the import: only what the refresh finds counts.
    const before = await app.client.accounts.list.query({ connectionId: cId });
    const txBefore = new Set((await allTransactions(cId)).map((t) => t.id));
    const balanceRule = await createRule('NEW_ACCOUNT_BALANCE', {}, [cId]);
    const txRule = await createRule('NEW_TRANSACTIONS', {}, [cId]);
    const chosen = before[0]!.id;
    const oneAccountRule = await createRule('NEW_TRANSACTIONS', { accountIds: [chosen] }, [cId]);
    const oneAccountIds = await createRule('NEW_TRANSACTIONS', { accountIds: [chosen] }, [cId], false);

    clock.advance(3 * DAY);
    // A twin (same loginId, no rules of its own) imported now shows what C's refresh will find, so a LOW_ACCOUNT_BALANCE
    // threshold can sit just above a balance that is about to fall.
    const twinId = await importConnection('rules-lifecycle');
    await settle();
    const twin = await app.client.accounts.list.query({ connectionId: twinId });
    const twinBalance = (providerId: string) => cents(twin.find((t) => t.providerId === providerId)!.balance);
    const falling = before.find((b) => twinBalance(b.providerId) < cents(b.balance))!;
    expect(falling).toBeDefined();
    const crossingAt = twinBalance(falling.providerId) + 1n;
    const crossing = await createRule('LOW_ACCOUNT_BALANCE', { threshold: decimal(crossingAt) }, [cId]);
    // Every balance is below this one already: moving while staying below is not news.
    const alreadyBelow = await createRule('LOW_ACCOUNT_BALANCE', { threshold: '100000000' }, [cId]);
    expect(before.every((b) => cents(b.balance) < 100000000_00n)).toBe(true);

    await app.client.connections.refresh.mutate({ id: cId });
    await settle();

    const after = await app.client.accounts.list.query({ connectionId: cId });
    const txAfter = await allTransactions(cId);
    const created = txAfter.filter((t) => !txBefore.has(t.id));
    const changed = after.filter((a) => a.balance !== before.find((b) => b.id === a.id)!.balance);
    // The refresh must have found something on more than the chosen account, or the per-account filter proves nothing.
    expect(changed.length).toBeGreaterThan(0);
    expect(created.some((t) => t.accountId === chosen)).toBe(true);
    expect(created.some((t) => t.accountId !== chosen)).toBe(true);

    // NEW_ACCOUNT_BALANCE: one notification per changed balance, with the balance before and after.
    const balances = notificationsOf(balanceRule.id);
    expect(balances.every((r) => r.type === 'notification.NEW_ACCOUNT_BALANCE' && r.json.connectionId === cId)).toBe(true);
    const reported = balances.flatMap((r) => r.json.data.accounts as { accountId: string; balance: string; previousBalance: string }[]);
    expect(sorted(reported.map((a) => a.accountId))).toEqual(sorted(changed.map((a) => a.id)));
    for (const a of reported) {
      expect(cents(a.balance)).toBe(cents(after.find((x) => x.id === a.accountId)!.balance));
      expect(cents(a.previousBalance)).toBe(cents(before.find((x) => x.id === a.accountId)!.balance));
    }

    // LOW_ACCOUNT_BALANCE on a refresh: the accounts that went below, not those that were below already.
    const previousOf = (id: string) => cents(before.find((b) => b.id === id)!.balance);
    const crossed = after.filter((a) => cents(a.balance) < crossingAt && previousOf(a.id) >= crossingAt);
    expect(crossed.map((a) => a.id)).toContain(falling.id);
    const crossings = notificationsOf(crossing.id);
    const crossedReported = crossings.flatMap(
      (r) => r.json.data.accounts as { accountId: string; balance: string; previousBalance: string }[],
    );
    expect(sorted(crossedReported.map((a) => a.accountId))).toEqual(sorted(crossed.map((a) => a.id)));
    for (const a of crossedReported) expect(cents(a.previousBalance)).toBe(previousOf(a.accountId));
    expect(notificationsOf(alreadyBelow.id)).toEqual([]);

    // NEW_TRANSACTIONS: exactly the rows the refresh added; restricted to one account, only that account's.
    const [tx, ...moreTx] = notificationsOf(txRule.id);
    expect(moreTx).toEqual([]);
    expect(tx!.json).toMatchObject({
      type: 'notification.NEW_TRANSACTIONS',
      connectionId: cId,
      data: { count: created.length, truncated: false },
    });
    expect(sorted((tx!.json.data.transactions as { id: string }[]).map((t) => t.id))).toEqual(sorted(created.map((t) => t.id)));
    for (const t of tx!.json.data.transactions as { id: string; amount: string; accountId: string }[]) {
      const stored = created.find((s) => s.id === t.id)!;
      expect([cents(t.amount), t.accountId]).toEqual([cents(stored.amount), stored.accountId]);
    }
    const onChosen = created.filter((t) => t.accountId === chosen);
    const [one, ...moreOne] = notificationsOf(oneAccountRule.id);
    expect(moreOne).toEqual([]);
    expect(one!.json.data.count).toBe(onChosen.length);
    expect(sorted((one!.json.data.transactions as { id: string }[]).map((t) => t.id))).toEqual(sorted(onChosen.map((t) => t.id)));
    expect((one!.json.data.transactions as { accountId: string }[]).every((t) => t.accountId === chosen)).toBe(true);
    const [oneIds] = notificationsOf(oneAccountIds.id);
    expect(sorted(oneIds!.json.data.transactionIds)).toEqual(sorted(onChosen.map((t) => t.id)));
    expect(keysDeep(oneIds!.json).filter((k) => /amount|transactions/i.test(k))).toEqual([]);

    // Bad credentials: a login error the user must fix, so BANK_LOGIN_ERROR fires (for C only; T's stays silent).
    await app.client.connections.update.mutate({ id: cId, credentials: { loginId: 'rules-lifecycle', password: 'wrong' } });
    await settle();
    const [login, ...moreLogin] = notificationsOf(loginRule.id);
    expect(moreLogin).toEqual([]);
    expect(login!.json).toMatchObject({
      type: 'notification.BANK_LOGIN_ERROR',
      connectionId: cId,
      data: {
        ruleId: loginRule.id,
        triggerEvent: 'BANK_LOGIN_ERROR',
        error: { code: 'invalid-credentials' },
        connection: { id: cId, userActionRequired: true },
      },
    });
  });

  it('a rule scoped to one connection does not fire for another', async () => {
    const xId = await importConnection('rules-scope');
    const yId = await importConnection('rules-scope');
    const onlyX = await createRule('CONNECTION_STATUS_CHANGED', {}, [xId]);
    const txOnlyX = await createRule('NEW_TRANSACTIONS', {}, [xId]);
    const everyone = await createRule('CONNECTION_STATUS_CHANGED', {}, undefined);
    await settle();

    // Y went through the same changes, so only the scope kept the rule quiet.
    for (const id of [xId, yId]) {
      const events = await app.client.events.list.query({ connectionId: id, types: ['connection.status_changed', 'transactions.new'] });
      expect(new Set(events.items.map((e) => e.type))).toEqual(new Set(['connection.status_changed', 'transactions.new']));
    }
    expect(notificationsOf(onlyX.id).map((r) => r.json.connectionId)).toEqual([xId]);
    expect(notificationsOf(txOnlyX.id).map((r) => r.json.connectionId)).toEqual([xId]);
    expect(sorted(notificationsOf(everyone.id).map((r) => r.json.connectionId))).toEqual(sorted([xId, yId]));
  });

  it('deleting connections deletes rules scoped to them alone and narrows rules scoped to several', async () => {
    const dId = await importConnection('rules-delete', 'deleter-1');
    const oId = await importConnection('rules-delete', 'deleter-2');
    const d1 = await importConnection('rules-delete', 'deleter-3');
    const d2 = await importConnection('rules-delete', 'deleter-3');
    await settle(); // a busy connection cannot be deleted

    const onlyD = await createRule('NEW_TRANSACTIONS', {}, [dId]);
    const both = await createRule('NEW_TRANSACTIONS', {}, [dId, oId]);
    const unscoped = await createRule('NEW_TRANSACTIONS', {}, undefined);
    const onlyO = await createRule('LOW_ACCOUNT_BALANCE', { threshold: '10' }, [oId]);
    const pair = await createRule('BANK_LOGIN_ERROR', {}, [d1, d2]);
    const pairAndO = await createRule('BANK_LOGIN_ERROR', {}, [d1, oId, d2]);

    await app.client.connections.delete.mutate({ id: dId });
    expect((await rejection(app.client.notificationRules.get.query({ id: onlyD.id }))).data?.code).toBe('NOT_FOUND');
    expect((await app.client.notificationRules.get.query({ id: both.id })).connectionIds).toEqual([oId]);
    expect(await app.client.notificationRules.get.query({ id: unscoped.id })).toEqual(unscoped);
    expect(await app.client.notificationRules.get.query({ id: onlyO.id })).toEqual(onlyO);
    expect(await app.client.notificationRules.get.query({ id: pair.id })).toEqual(pair);

    // deleteAll removes both of the user's connections at once: the rule naming just those two goes too.
    expect(sorted((await app.client.connections.deleteAll.mutate({ userId: 'deleter-3' })).deletedIds)).toEqual(sorted([d1, d2]));
    expect((await rejection(app.client.notificationRules.get.query({ id: pair.id }))).data?.code).toBe('NOT_FOUND');
    expect((await app.client.notificationRules.get.query({ id: pairAndO.id })).connectionIds).toEqual([oId]);

    const listed = (await app.client.notificationRules.list.query()).map((r) => r.id);
    expect(listed).toEqual(expect.arrayContaining([both.id, unscoped.id, onlyO.id, pairAndO.id]));
    expect(listed).not.toContain(onlyD.id);
    expect(listed).not.toContain(pair.id);
  });
});

describe('notification rule input', () => {
  let ruleCount: () => Promise<number>;
  let connectionId: string;
  let other: TestApp;
  let otherEndpointId: string;
  let otherConnectionId: string;
  let otherAccountId: string;

  beforeAll(async () => {
    ruleCount = async () => (await service.database.db.query(`SELECT count(*)::int AS n FROM notification_rules`))[0].n;
    connectionId = await importConnection('rules-input');
    other = await createTestApp(service);
    // Another app's endpoint, subscribed to nothing its connections produce (the receiver does not hold its secret).
    otherEndpointId = (await other.client.webhooks.endpoints.create.mutate({ url: receiver.url, eventTypes: ['webhook.test'] })).endpoint
      .id;
    otherConnectionId = (await other.client.connections.create.mutate(connectionInput())).connection.id;
    await settle();
    otherAccountId = (await other.client.accounts.list.query({ connectionId: otherConnectionId }))[0]!.id;
  });

  type Case = [name: string, input: () => Record<string, unknown>, path: (string | number)[]];
  const cases: Case[] = [
    [
      'LOW_ACCOUNT_BALANCE without a threshold',
      () => ({ triggerEvent: 'LOW_ACCOUNT_BALANCE', params: {}, endpointId }),
      ['params', 'threshold'],
    ],
    ['HIGH_TRANSACTION_AMOUNT without params', () => ({ triggerEvent: 'HIGH_TRANSACTION_AMOUNT', endpointId }), ['params', 'threshold']],
    [
      'BANK_LOGIN_ERROR with a threshold (unknown key)',
      () => ({ triggerEvent: 'BANK_LOGIN_ERROR', params: { threshold: '10' }, endpointId }),
      ['params', 'threshold'],
    ],
    [
      'threshold not a number',
      () => ({ triggerEvent: 'LOW_ACCOUNT_BALANCE', params: { threshold: 'abc' }, endpointId }),
      ['params', 'threshold'],
    ],
    [
      'threshold with five decimals',
      () => ({ triggerEvent: 'LOW_ACCOUNT_BALANCE', params: { threshold: '1.23456' }, endpointId }),
      ['params', 'threshold'],
    ],
    [
      'accountIds not uuids',
      () => ({ triggerEvent: 'NEW_TRANSACTIONS', params: { accountIds: ['x'] }, endpointId }),
      ['params', 'accountIds', 0],
    ],
    ['unknown trigger', () => ({ triggerEvent: 'SOMETHING', params: {}, endpointId }), ['triggerEvent']],
    ['unknown field', () => ({ triggerEvent: 'NEW_TRANSACTIONS', endpointId, enabled: true }), ['enabled']],
  ];
  // Another app's ids are missing ones: NOT_FOUND, naming where the id was.
  const foreign: Case[] = [
    ["another app's endpoint", () => ({ triggerEvent: 'NEW_TRANSACTIONS', endpointId: otherEndpointId }), ['endpointId']],
    [
      "another app's connection",
      () => ({ triggerEvent: 'NEW_TRANSACTIONS', endpointId, connectionIds: [connectionId, otherConnectionId] }),
      ['connectionIds', 1],
    ],
    [
      "another app's account",
      () => ({ triggerEvent: 'NEW_TRANSACTIONS', endpointId, params: { accountIds: [otherAccountId] } }),
      ['params', 'accountIds', 0],
    ],
  ];

  it.each(foreign)('create: %s → NOT_FOUND at the field, nothing written', async (_name, input, path) => {
    const before = await ruleCount();
    const error = await rejection(app.client.notificationRules.create.mutate(input() as never));
    expect(error.data?.code).toBe('NOT_FOUND');
    expect(error.data?.issues?.map((i) => i.path)).toEqual([path]);
    expect(await ruleCount()).toBe(before);
  });

  it.each(cases)('create: %s → BAD_REQUEST naming the field, nothing written', async (_name, input, path) => {
    const before = await ruleCount();
    const error = await rejection(app.client.notificationRules.create.mutate(input() as never));
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.data?.issues?.map((i) => i.path)).toContainEqual(path);
    expect(await ruleCount()).toBe(before);
  });

  type UpdateCase = [name: string, patch: () => Record<string, unknown>, path: (string | number)[]];
  const updateCases: UpdateCase[] = [
    ['threshold not a number', () => ({ params: { threshold: 'abc' } }), ['params', 'threshold']],
    ['threshold removed', () => ({ params: {} }), ['params', 'threshold']],
    ['a param the trigger does not take', () => ({ params: { threshold: '5', extra: 1 } }), ['params', 'extra']],
    ['the trigger (fixed once created)', () => ({ triggerEvent: 'NEW_TRANSACTIONS' }), ['triggerEvent']],
  ];

  it.each([
    ["another app's endpoint", () => ({ endpointId: otherEndpointId }), ['endpointId']],
    ["another app's connection", () => ({ connectionIds: [otherConnectionId] }), ['connectionIds', 0]],
  ] as UpdateCase[])('update: %s → NOT_FOUND at the field, the rule unchanged', async (_name, patch, path) => {
    const rule = await createRule('LOW_ACCOUNT_BALANCE', { threshold: '50' }, [connectionId]);
    const error = await rejection(app.client.notificationRules.update.mutate({ id: rule.id, ...patch() } as never));
    expect(error.data?.code).toBe('NOT_FOUND');
    expect(error.data?.issues?.map((i) => i.path)).toEqual([path]);
    expect(await app.client.notificationRules.get.query({ id: rule.id })).toEqual(rule);
  });

  it.each(updateCases)('update: %s → BAD_REQUEST naming the field, the rule unchanged', async (_name, patch, path) => {
    const rule = await createRule('LOW_ACCOUNT_BALANCE', { threshold: '50' }, [connectionId]);
    const error = await rejection(app.client.notificationRules.update.mutate({ id: rule.id, ...patch() } as never));
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.data?.issues?.map((i) => i.path)).toContainEqual(path);
    expect(await app.client.notificationRules.get.query({ id: rule.id })).toEqual(rule);
  });

  it('update: good params are checked against the rule’s own trigger and saved as exact decimals', async () => {
    const rule = await createRule('LOW_ACCOUNT_BALANCE', { threshold: '50' }, [connectionId]);
    const updated = await app.client.notificationRules.update.mutate({
      id: rule.id,
      params: { threshold: 25.5 },
      includeDetails: false,
      connectionIds: null,
    });
    expect(updated).toMatchObject({
      id: rule.id,
      triggerEvent: 'LOW_ACCOUNT_BALANCE',
      params: { threshold: '25.5' },
      includeDetails: false,
      connectionIds: null,
    });
    expect(await app.client.notificationRules.get.query({ id: rule.id })).toEqual(updated);
  });
});
