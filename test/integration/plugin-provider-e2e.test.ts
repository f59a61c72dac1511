import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import { createReferenceProviderServer, listen } from '../../src/providers/http/reference-provider-server.ts';
import { NORMAL_PROFILE, sandboxAccounts } from '../../src/providers/sandbox/sandbox-data.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { runUntilSettled, startTestService, type TestService } from '../helpers/test-service.ts';

// The plug-in institution AU00100 through the real job runner, its provider a real HTTP server (the reference
// provider over the sandbox), faults included: a provider that hangs past the timeout, 503s, 429s and a challenge.

const clock = new ManualClock('2026-06-01T09:00:00.000Z');
let service: TestService;
let app: TestApp;
let runner: JobRunner;
let provider: { url: string; close(): Promise<void> };

beforeAll(async () => {
  provider = await listen(createReferenceProviderServer({ timeoutDelayMs: 5_000 }), 0);
  service = await startTestService({ clock, sandboxPluginUrl: provider.url });
  app = await createTestApp(service);
  // The test service's registry: connect timeout 500 ms, total 2 s; three tries.
  runner = service.runner();
});
afterAll(async () => {
  await service.close();
  await provider.close();
});

const create = (loginId: string) =>
  app.client.connections.create.mutate(connectionInput({ institutionId: 'AU00100', credentials: { loginId, password: 'pw' } }));

const settle = () => runUntilSettled(service, runner, clock);

describe('plug-in provider over HTTP', () => {
  it('imports accounts and transactions identical to the built-in sandbox', async () => {
    const viaHttp = await create('gavin');
    await settle();
    expect(await app.client.connections.get.query({ id: viaHttp.connection.id })).toMatchObject({
      method: 'plug-in',
      serviceProvider: 'sandbox-plugin',
      status: 'ACTIVE',
      state: 'completed-up-to-date',
    });
    const a = await app.client.accounts.list.query({ connectionId: viaHttp.connection.id });
    const expected = sandboxAccounts({ institutionId: 'AU00100', loginId: 'gavin', profile: NORMAL_PROFILE }, clock.now());
    expect(a.map((x) => [x.providerId, x.balance, x.availableBalance])).toEqual(expected.map((x) => [x.id, x.balance, x.availableBalance]));
    const txs = await app.client.transactions.list.query({ connectionId: viaHttp.connection.id, limit: 500 });
    expect(txs.items.length).toBeGreaterThan(50);
  });

  it('5xx from the provider: retried, then success', async () => {
    const { connection, job } = await create('flaky');
    await settle();
    const [{ failures }] = await service.database.db.query('SELECT failures FROM jobs WHERE id = $1', [job.id]);
    expect(failures).toBe(2);
    expect((await app.client.connections.get.query({ id: connection.id })).status).toBe('ACTIVE');
  });

  it('a provider that hangs: the client times out, retries, and the job fails technical/provider-timeout', { timeout: 30_000 }, async () => {
    const started = Date.now();
    const { connection, job } = await create('timeout');
    await settle();
    expect(Date.now() - started).toBeLessThan(15_000); // three 2 s timeouts, not three 5 s hangs
    expect(await app.client.jobs.get.query({ id: job.id })).toMatchObject({
      status: 'failed',
      error: { category: 'technical', origin: 'provider', code: 'provider-timeout' },
    });
    expect((await app.client.connections.get.query({ id: connection.id })).state).toBe('creation-failed');
  });

  it('429 with Retry-After pauses the plug-in provider and never fails the connection', async () => {
    const { connection, job } = await create('rate-limited');
    await runner.drain();
    const [pause] = await service.database.db.query(`SELECT paused_until FROM provider_pauses WHERE provider_key = 'sandbox-plugin'`);
    expect(pause.paused_until.getTime()).toBe(clock.now().getTime() + 1_000);
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({ state: 'creation-in-progress', error: null });
    await settle();
    expect((await app.client.jobs.get.query({ id: job.id })).status).toBe('succeeded');
  });

  it('invalid credentials and a challenge travel over the protocol (401 typed error, 510)', async () => {
    const invalid = await create('invalid');
    const challenged = await create('challenge');
    await settle();
    expect((await app.client.connections.get.query({ id: invalid.connection.id })).error).toMatchObject({ code: 'invalid-credentials', category: 'functional' });
    const waiting = await app.client.jobs.get.query({ id: challenged.job.id });
    expect(waiting.status).toBe('awaiting-challenge');
    await app.client.jobs.answerChallenge.mutate({ id: challenged.job.id, response: '123456' });
    await settle();
    expect((await app.client.connections.get.query({ id: challenged.connection.id })).status).toBe('ACTIVE');
  });
});
