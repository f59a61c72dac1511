import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { rejection, runUntilSettled, startTestService, type TestService } from '../helpers/test-service.ts';

// The whole lifecycle through the real job runner and the built-in sandbox, on a clock the test moves.

const clock = new ManualClock('2026-06-01T09:00:00.000Z');
let service: TestService;
let app: TestApp;
let runner: JobRunner;

beforeAll(async () => {
  service = await startTestService({ clock });
  app = await createTestApp(service);
  runner = service.runner();
});
afterAll(() => service.close());

const create = (loginId: string, extra: Parameters<typeof connectionInput>[0] = {}) =>
  app.client.connections.create.mutate(connectionInput({ credentials: { loginId, password: 'pw' }, ...extra }));

const settle = () => runUntilSettled(service, runner, clock);

const count = async (table: 'accounts' | 'transactions', connectionId: string) =>
  (await service.database.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE connection_id = $1`, [connectionId]))[0].n as number;

describe('create', () => {
  it('pending → creation-in-progress → completed-up-to-date: ACTIVE with accounts, transactions and dataset state', async () => {
    const { connection, job } = await create('gavin');
    await runner.drain();

    const done = await app.client.jobs.get.query({ id: job.id });
    expect(done.status).toBe('succeeded');
    expect(done.steps.map((s) => [s.title, s.status])).toEqual([
      ['verify-credentials', 'success'],
      ['retrieve-accounts', 'success'],
      ['retrieve-transactions', 'success'],
    ]);
    for (const s of done.steps) expect(s.finishedAt!.getTime()).toBeGreaterThanOrEqual(s.startedAt!.getTime());

    const c = await app.client.connections.get.query({ id: connection.id });
    expect(c).toMatchObject({ status: 'ACTIVE', state: 'completed-up-to-date', error: null, providerStatus: 'active' });
    expect(c.reference).toMatch(/^sbx-conn-/);
    expect(c.connectionState.connectedAt).toEqual(clock.now());
    for (const d of ['BANK_ACCOUNT', 'BANK_BALANCE', 'BANK_TRANSACTION', 'USER_INFO'] as const) {
      expect(c.connectionState[d]).toEqual({ status: 'SUCCESS', referenceId: job.id, lastSuccess: clock.now(), lastUpdated: clock.now() });
    }
    expect(c.lastRefreshedAt).toEqual(clock.now());
    expect(c.consentExpiresAt!.getTime()).toBeGreaterThan(clock.now().getTime());

    const accounts = await app.client.accounts.list.query({ connectionId: connection.id });
    expect(accounts).toHaveLength(3);
    expect(accounts[0]!.balance).toMatch(/^-?\d+\.\d{2}$/);
    const page = await app.client.transactions.list.query({ connectionId: connection.id, limit: 10 });
    expect(page.items).toHaveLength(10);
    expect(page.items[0]!.amount).toMatch(/^-?\d+\.\d{2}$/);
    expect(page.items.map((t) => t.bookedAt.getTime())).toEqual(page.items.map((t) => t.bookedAt.getTime()).sort((a, b) => b - a));
    expect((await app.client.accounts.list.query({ userId: connection.userId })).map((a) => a.id).sort()).toEqual(
      accounts.map((a) => a.id).sort(),
    );
  });

  it('invalid credentials: creation-failed, INITIATED, functional provider error, needs the user; new credentials repair it', async () => {
    const { connection } = await create('invalid');
    await settle();
    const c = await app.client.connections.get.query({ id: connection.id });
    expect(c).toMatchObject({ status: 'INITIATED', state: 'creation-failed' });
    expect(c.error).toMatchObject({ category: 'functional', origin: 'provider', code: 'invalid-credentials' });
    expect(c.connectionState.USER_INFO).toMatchObject({ status: 'FAILURE', lastSuccess: null });

    const refused = await rejection(app.client.connections.refresh.mutate({ id: connection.id }));
    expect(refused.data?.code).toBe('PRECONDITION_FAILED');

    const { job } = await app.client.connections.update.mutate({
      id: connection.id,
      credentials: { loginId: 'gavin2', password: 'right' },
    });
    expect(job?.kind).toBe('update');
    await settle();
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({
      status: 'ACTIVE',
      state: 'completed-up-to-date',
      error: null,
    });
  });

  it('provider timeout: retried with backoff up to the bound, then creation-failed with a technical error', async () => {
    const { connection, job } = await create('timeout');
    await runner.drain();
    const retrying = await app.client.jobs.get.query({ id: job.id });
    expect(retrying.status).toBe('queued'); // waiting out its backoff
    expect(retrying.error).toMatchObject({ category: 'technical', code: 'provider-timeout' });
    await settle();
    const failed = await app.client.jobs.get.query({ id: job.id });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({
      category: 'technical',
      origin: 'provider',
      code: 'provider-timeout',
      attributes: { failures: 3 },
    });
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({
      status: 'INITIATED',
      state: 'creation-failed',
      error: { category: 'technical', code: 'provider-timeout' },
    });
  });

  it('rate limited: the institution pauses and the job waits; the connection is never marked failed', async () => {
    const { connection, job } = await create('rate-limited');
    await runner.drain();
    const [pause] = await service.database.db.query(`SELECT * FROM provider_pauses WHERE scope = 'institution:AU00000'`);
    expect(pause.paused_until.getTime()).toBe(clock.now().getTime() + 1_000);
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({ state: 'creation-in-progress', error: null });
    // Paused: nothing of that institution is claimed before Retry-After, not even a fresh job...
    const other = await create('gavin-during-pause');
    expect(await runner.runOnce()).toBe(0);
    // ...but another institution behind the same provider (and every other app) goes on.
    const elsewhere = await create('gavin-elsewhere', { institutionId: 'AU00001' });
    expect(await runner.runOnce()).toBe(1);
    expect((await app.client.jobs.get.query({ id: elsewhere.job!.id })).status).toBe('succeeded');
    clock.advance(1_000);
    await settle();
    const done = await app.client.jobs.get.query({ id: job.id });
    expect(done).toMatchObject({ status: 'succeeded' });
    const [{ failures, attempts }] = await service.database.db.query('SELECT failures, attempts FROM jobs WHERE id = $1', [job.id]);
    expect({ failures, attempts }).toEqual({ failures: 0, attempts: 3 }); // 429s are not failures
    expect((await app.client.connections.get.query({ id: connection.id })).status).toBe('ACTIVE');
    expect((await app.client.connections.get.query({ id: other.connection.id })).status).toBe('ACTIVE');
  });

  it('intermittent 5xx then success', async () => {
    const { connection, job } = await create('flaky');
    await settle();
    const [{ failures }] = await service.database.db.query('SELECT failures FROM jobs WHERE id = $1', [job.id]);
    expect(failures).toBe(2);
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({ status: 'ACTIVE', error: null });
  });

  it('large user: 25 accounts and thousands of transactions', async () => {
    const { connection } = await create('large');
    await settle();
    expect(await count('accounts', connection.id)).toBe(25);
    expect(await count('transactions', connection.id)).toBeGreaterThan(4_000);
  });
});

describe('multi-step authentication', () => {
  it('a challenge answered right continues the same job', async () => {
    const { connection, job } = await create('challenge');
    await runner.drain();
    const waiting = await app.client.jobs.get.query({ id: job.id });
    expect(waiting.status).toBe('awaiting-challenge');
    expect(waiting.challenge).toMatchObject({ type: 'TEXT', message: expect.stringContaining('123456') });
    expect(waiting.challenge!.expiresAt).toBeInstanceOf(Date);
    expect(waiting.steps[0]).toMatchObject({ title: 'verify-credentials', status: 'in-progress' });
    // Still busy while waiting for the user.
    expect((await rejection(app.client.connections.delete.mutate({ id: connection.id }))).data?.code).toBe('CONFLICT');

    const answered = await app.client.jobs.answerChallenge.mutate({ id: job.id, response: '123456' });
    expect(answered.status).toBe('queued');
    await runner.drain();
    expect(await app.client.jobs.get.query({ id: job.id })).toMatchObject({ status: 'succeeded', challenge: null });
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({ status: 'ACTIVE' });
  });

  it('a wrong answer fails the step with a functional error', async () => {
    const { connection, job } = await create('challenge');
    await runner.drain();
    await app.client.jobs.answerChallenge.mutate({ id: job.id, response: '000000' });
    await runner.drain();
    const failed = await app.client.jobs.get.query({ id: job.id });
    expect(failed.status).toBe('failed');
    expect(failed.steps[0]).toMatchObject({ status: 'failed', error: { category: 'functional', code: 'challenge-failed' } });
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({
      state: 'creation-failed',
      error: { category: 'functional', code: 'challenge-failed' },
    });
  });

  it('an unanswered challenge expires and fails the job', async () => {
    const { connection, job } = await create('challenge');
    await runner.drain();
    clock.advance(5 * 60_000 + 1);
    expect(await service.services.jobs.expireChallenges()).toBe(1);
    const failed = await app.client.jobs.get.query({ id: job.id });
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'challenge-expired', origin: 'customer' } });
    expect((await app.client.connections.get.query({ id: connection.id })).state).toBe('creation-failed');
    const late = await rejection(app.client.jobs.answerChallenge.mutate({ id: job.id, response: '123456' }));
    expect(late.data?.code).toBe('PRECONDITION_FAILED');
    expect(late.data?.details).toEqual({ status: 'failed' });
  });

  it('an answer that comes after the expiry, before the recovery tick, fails the job and says so in details', async () => {
    const { job } = await create('challenge');
    await runner.drain();
    clock.advance(5 * 60_000 + 1);
    const late = await rejection(app.client.jobs.answerChallenge.mutate({ id: job.id, response: '123456' }));
    expect(late.data?.code).toBe('PRECONDITION_FAILED');
    expect(late.data?.details).toEqual({ status: 'failed' });
    expect((await app.client.jobs.get.query({ id: job.id })).error?.code).toBe('challenge-expired');
  });
});

describe('refresh', () => {
  it('on a busy connection returns the in-flight job with alreadyRunning', async () => {
    const { connection, job } = await create('gavin-busy');
    const again = await app.client.connections.refresh.mutate({ id: connection.id });
    expect(again).toMatchObject({ alreadyRunning: true, job: { id: job.id } });
    await runner.drain();
    const fresh = await app.client.connections.refresh.mutate({ id: connection.id });
    expect(fresh.alreadyRunning).toBe(false);
    expect(fresh.job).toMatchObject({ kind: 'refresh', status: 'queued' });
    await runner.drain();
  });

  it('refreshAll starts one per idle connection and reports the busy ones', async () => {
    const userId = 'refresh-all-user';
    const a = await create('ra-1', { userId });
    await runner.drain();
    const b = await create('ra-2', { userId }); // still queued
    const invalid = await create('invalid', { userId });
    await runner.drain(); // b done, invalid failed
    const c = await create('ra-3', { userId }); // queued
    const result = await app.client.connections.refreshAll.mutate({ userId });
    const byId = new Map(result.jobs.map((j) => [j.connectionId, j]));
    expect(byId.get(a.connection.id)).toMatchObject({ alreadyRunning: false, job: { kind: 'refresh' } });
    expect(byId.get(b.connection.id)).toMatchObject({ alreadyRunning: false });
    expect(byId.get(c.connection.id)).toMatchObject({ alreadyRunning: true, job: { id: c.job.id } });
    expect(result.skipped).toEqual([{ connectionId: invalid.connection.id, reason: expect.stringContaining('invalid-credentials') }]);
    await runner.drain();
  });

  it('twice in a row writes no duplicate rows; later, new transactions arrive and pending ones post in place', async () => {
    const { connection } = await create('gavin-twice');
    await runner.drain();
    const txBefore = await count('transactions', connection.id);
    await app.client.connections.refresh.mutate({ id: connection.id });
    await runner.drain();
    expect(await count('accounts', connection.id)).toBe(3);
    expect(await count('transactions', connection.id)).toBe(txBefore);

    const pendingBefore: { id: string; provider_transaction_id: string }[] = await service.database.db.query(
      `SELECT id, provider_transaction_id FROM transactions WHERE connection_id = $1 AND status = 'pending'`,
      [connection.id],
    );
    expect(pendingBefore.length).toBeGreaterThan(0);
    const balancesBefore = (await app.client.accounts.list.query({ connectionId: connection.id })).map((a) => a.balance);

    clock.advance(4 * 24 * 3_600_000);
    await app.client.connections.refresh.mutate({ id: connection.id });
    await runner.drain();
    expect(await count('transactions', connection.id)).toBeGreaterThan(txBefore);
    const after: { id: string; status: string }[] = await service.database.db.query(
      `SELECT id, status FROM transactions WHERE id = ANY($1::uuid[])`,
      [pendingBefore.map((p) => p.id)],
    );
    expect(after.map((r) => r.status)).toEqual(pendingBefore.map(() => 'posted')); // same rows, now posted
    const [{ dupes }] = await service.database.db.query(
      `SELECT count(*)::int AS dupes FROM (SELECT provider_transaction_id FROM transactions WHERE connection_id = $1 GROUP BY 1 HAVING count(*) > 1) d`,
      [connection.id],
    );
    expect(dupes).toBe(0);
    expect((await app.client.accounts.list.query({ connectionId: connection.id })).map((a) => a.balance)).not.toEqual(balancesBefore);
  });

  it('a failed refresh keeps the data with completed-outdated; the next good one clears the error', async () => {
    const { connection } = await create('flaky');
    await settle(); // created after two 503s
    const strict = service.runner({ maxFailures: 1 });
    await app.client.connections.refresh.mutate({ id: connection.id });
    await strict.drain();
    const outdated = await app.client.connections.get.query({ id: connection.id });
    expect(outdated).toMatchObject({
      status: 'ACTIVE',
      state: 'completed-outdated',
      error: { category: 'technical', code: 'provider-unavailable' },
    });
    expect(outdated.connectionState.USER_INFO).toMatchObject({ status: 'FAILURE' });
    expect(outdated.connectionState.USER_INFO!.lastSuccess).not.toBeNull();
    expect(await count('accounts', connection.id)).toBe(3); // the data is kept

    await app.client.connections.refresh.mutate({ id: connection.id });
    await settle();
    const repaired = await app.client.connections.get.query({ id: connection.id });
    expect(repaired).toMatchObject({ state: 'completed-up-to-date', error: null });
    expect(repaired.connectionState.USER_INFO!.status).toBe('SUCCESS');
  });

  it('consent expired at the provider: EXPIRED, data kept, refresh refused until renewed', async () => {
    const { connection } = await create('consent-expired');
    await runner.drain();
    await app.client.connections.refresh.mutate({ id: connection.id });
    await runner.drain();
    const c = await app.client.connections.get.query({ id: connection.id });
    expect(c).toMatchObject({ status: 'EXPIRED', state: 'completed-outdated', error: { code: 'consent-expired', category: 'functional' } });
    expect(await count('accounts', connection.id)).toBe(3);
    expect((await rejection(app.client.connections.refresh.mutate({ id: connection.id }))).data?.code).toBe('PRECONDITION_FAILED');
    expect((await app.client.connections.get.query({ id: connection.id })).userActionRequired).toBe(true);
  });

  it('consentExpiresAt passed: the runner marks the connection EXPIRED without calling the provider', async () => {
    const { connection } = await create('gavin-consent-date');
    await runner.drain();
    await service.database.db.query('UPDATE connections SET consent_expires_at = $2 WHERE id = $1', [
      connection.id,
      new Date(clock.now().getTime() - 1),
    ]);
    await app.client.connections.refresh.mutate({ id: connection.id });
    await runner.drain();
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({
      status: 'EXPIRED',
      error: { code: 'consent-expired' },
    });
    // Renewing the consent (new credentials) brings it back.
    await app.client.connections.update.mutate({ id: connection.id, credentials: { loginId: 'gavin-consent-date', password: 'pw' } });
    await runner.drain();
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({
      status: 'ACTIVE',
      state: 'completed-up-to-date',
      error: null,
      userActionRequired: false,
    });
  });

  it('revoked at the provider: DISCONNECTED with disconnectedAt', async () => {
    const { connection } = await create('revoked');
    await runner.drain();
    await app.client.connections.refresh.mutate({ id: connection.id });
    await runner.drain();
    const c = await app.client.connections.get.query({ id: connection.id });
    expect(c).toMatchObject({ status: 'DISCONNECTED', error: { code: 'revoked' } });
    expect(c.connectionState.disconnectedAt).toEqual(clock.now());
  });

  it('delete removes the connection with its accounts and transactions in one transaction', async () => {
    const { connection } = await create('gavin-delete');
    await runner.drain();
    expect(await count('transactions', connection.id)).toBeGreaterThan(0);
    await app.client.connections.delete.mutate({ id: connection.id });
    expect(await count('accounts', connection.id)).toBe(0);
    expect(await count('transactions', connection.id)).toBe(0);
  });

  it('jobs.list shows the history, newest first', async () => {
    const { connection, job } = await create('gavin-history');
    await runner.drain();
    const { job: second } = await app.client.connections.refresh.mutate({ id: connection.id });
    await runner.drain();
    expect((await app.client.jobs.list.query({ connectionId: connection.id })).map((j) => j.id)).toEqual([second.id, job.id]);
  });
});
