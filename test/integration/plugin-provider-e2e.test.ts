import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  it(
    'a provider that hangs: the client times out, retries, and the job fails technical/provider-timeout',
    { timeout: 30_000 },
    async () => {
      const { connection, job } = await create('timeout');
      await settle();
      // Each try ended at the client's own 2 s timeout, not the provider's 5 s hang (which would answer a 504).
      expect(await app.client.jobs.get.query({ id: job.id })).toMatchObject({
        status: 'failed',
        error: { category: 'technical', origin: 'provider', code: 'provider-timeout', attributes: { timeoutMs: 2_000, failures: 3 } },
      });
      expect((await app.client.connections.get.query({ id: connection.id })).state).toBe('creation-failed');
    },
  );

  it("429 with Retry-After pauses the plug-in's institution and never fails the connection", async () => {
    const { connection, job } = await create('rate-limited');
    await runner.drain();
    const [pause] = await service.database.db.query(`SELECT paused_until FROM provider_pauses WHERE scope = 'institution:AU00100'`);
    expect(pause.paused_until.getTime()).toBe(clock.now().getTime() + 1_000);
    expect(await app.client.connections.get.query({ id: connection.id })).toMatchObject({ state: 'creation-in-progress', error: null });
    await settle();
    expect((await app.client.jobs.get.query({ id: job.id })).status).toBe('succeeded');
  });

  it('invalid credentials and a challenge travel over the protocol (401 typed error, 510)', async () => {
    const invalid = await create('invalid');
    const challenged = await create('challenge');
    await settle();
    expect((await app.client.connections.get.query({ id: invalid.connection.id })).error).toMatchObject({
      code: 'invalid-credentials',
      category: 'functional',
    });
    const waiting = await app.client.jobs.get.query({ id: challenged.job.id });
    expect(waiting.status).toBe('awaiting-challenge');
    await app.client.jobs.answerChallenge.mutate({ id: challenged.job.id, response: '123456' });
    await settle();
    expect((await app.client.connections.get.query({ id: challenged.connection.id })).status).toBe('ACTIVE');
  });

  it("a 429's scope says what waits: the connection alone, its institution (the default), or the whole provider", async () => {
    // A plug-in that is always rate limited, in the scope each connection's loginId names.
    const limiter = createServer((req, res) => {
      let raw = '';
      req
        .on('data', (d) => (raw += d))
        .on('end', () => {
          const scope = (JSON.parse(raw) as { credentials: { loginId: string } }).credentials.loginId;
          const body = { error: { kind: 'rate-limited', code: 'slow-down', message: 'Too many requests.', scope } };
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '60' }).end(JSON.stringify(body));
        });
    });
    await new Promise<void>((r) => limiter.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(limiter.address() as AddressInfo).port}`;
    const db = service.database.db;
    for (const id of ['XX00001', 'XX00002']) {
      await db.query(
        `INSERT INTO institutions (id, name, country, provider_key, method, provider_url, datasets, credential_fields)
         VALUES ($1, 'Limited Bank', 'XX', 'limited-plugin', 'plug-in', $2, '{BANK_ACCOUNT}', '[{"name":"loginId","label":"Login","secret":false,"required":true}]')`,
        [id, url],
      );
    }
    try {
      const createAt = (institutionId: string, loginId: string) =>
        app.client.connections.create.mutate({ userId: `limited-${loginId}`, institutionId, credentials: { loginId } });
      const pauses = async () =>
        (await db.query(`SELECT scope FROM provider_pauses WHERE scope LIKE '%XX0000%' OR scope LIKE '%limited-plugin'`))
          .map((r: { scope: string }) => r.scope)
          .sort();

      const connectionOnly = await createAt('XX00001', 'connection');
      await runner.runOnce();
      expect(await pauses()).toEqual([]);
      expect((await app.client.jobs.get.query({ id: connectionOnly.job!.id })).status).toBe('queued');

      await createAt('XX00002', 'institution');
      await runner.runOnce();
      expect(await pauses()).toEqual(['institution:XX00002']);

      // XX00001 was not paused by XX00002's limit; its own connection-scoped job waits on its own runAt.
      clock.advance(61_000);
      const provider = await createAt('XX00001', 'provider');
      expect(await runner.runOnce()).toBeGreaterThanOrEqual(1);
      expect(await pauses()).toEqual(['institution:XX00002', 'provider:limited-plugin']);
      expect((await app.client.jobs.get.query({ id: provider.job!.id })).error?.code).toBe('rate-limited');
    } finally {
      await db.query(`DELETE FROM connections WHERE institution_id IN ('XX00001', 'XX00002')`);
      await db.query(`DELETE FROM provider_pauses WHERE scope LIKE '%XX0000%' OR scope LIKE '%limited-plugin'`);
      await db.query(`DELETE FROM institutions WHERE id IN ('XX00001', 'XX00002')`);
      await new Promise((r) => limiter.close(r));
    }
  });
});
