import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import { createReferenceProviderServer, listen } from '../../src/providers/http/reference-provider-server.ts';
import { ConnectPagesClient } from '../helpers/connect-pages.ts';
import { createTestApp, type TestApp } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/service-process.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// Redirect (OAuth) authorisation without the hosted pages, as an app with screens of its own meets it: the job
// waits in awaiting-challenge with a REDIRECT challenge and its redirectUrl; the bank sends the user back to the
// service's callback; the app may instead hand the callback's query to jobs.answerChallenge. For the built-in
// redirect bank (AU00200) and the plug-in one (AU00300, the reference provider over HTTP, its bank on its own origin).

let service: TestService;
let app: TestApp;
let runner: JobRunner;
let provider: { url: string; close(): Promise<void> };
const bank = new ConnectPagesClient('http://unused.invalid/connect/x');

beforeAll(async () => {
  provider = await listen(createReferenceProviderServer(), 0);
  service = await startTestService({ sandboxPluginUrl: provider.url });
  app = await createTestApp(service);
  runner = service.runner({ pollMs: 50 });
  await runner.start();
});
afterAll(async () => {
  await runner.stop(1_000);
  await service.close();
  await provider.close();
});

const awaitingChallenge = (id: string) =>
  waitUntil(
    async () => {
      const j = await app.client.jobs.get.query({ id });
      return j.status === 'awaiting-challenge' ? j : null;
    },
    20_000,
    'the job to wait for the user',
  );

async function awaitingRedirect(institutionId: string, consentDays?: number) {
  const { connection, job } = await app.client.connections.create.mutate({
    userId: `redirect-${institutionId}`,
    institutionId,
    consentDays,
  });
  return { connection, job: await awaitingChallenge(job.id) };
}

const settled = (id: string) =>
  waitUntil(
    async () => {
      const j = await app.client.jobs.get.query({ id });
      return j.status === 'succeeded' || j.status === 'failed' ? j : null;
    },
    20_000,
    'the job to finish',
  );

describe('redirect authorisation through the API', () => {
  for (const institutionId of ['AU00200', 'AU00300']) {
    it(`${institutionId}: REDIRECT with its redirectUrl; the callback's query to jobs.answerChallenge finishes it`, async () => {
      const { connection, job } = await awaitingRedirect(institutionId, 30);
      expect(job.challenge).toMatchObject({ type: 'REDIRECT' });
      const redirectUrl = new URL(job.challenge!.redirectUrl!);
      // The bank is the sandbox's (on the service) or the plug-in's own origin; it sends the user to the callback.
      expect(redirectUrl.origin).toBe(institutionId === 'AU00200' ? service.url : provider.url);
      expect(redirectUrl.searchParams.get('redirect_uri')).toBe(`${service.url}/connect/callback`);
      const back = await bank.bankDecision(redirectUrl.toString(), 'approve');
      expect(back.searchParams.get('code')).toBeTruthy();

      // Another state is not this job's callback; a field-named 400, and the job still waits.
      const forged = new URLSearchParams(back.search);
      forged.set('state', 'x'.repeat(43));
      const refused = await rejection(app.client.jobs.answerChallenge.mutate({ id: job.id, response: forged.toString() }));
      expect(refused.data?.code).toBe('BAD_REQUEST');
      expect(refused.message).toContain('state');

      await app.client.jobs.answerChallenge.mutate({ id: job.id, response: back.search.slice(1) });
      expect((await settled(job.id)).status).toBe('succeeded');
      const connected = await app.client.connections.get.query({ id: connection.id });
      expect(connected.status).toBe('ACTIVE');
      expect(Math.round((connected.consentExpiresAt!.getTime() - Date.now()) / 86_400_000)).toBe(30);
      expect((await app.client.accounts.list.query({ connectionId: connection.id })).length).toBeGreaterThan(0);

      // The state works once: the user's browser arriving at the callback afterwards finds nothing to finish.
      expect((await fetch(back, { redirect: 'manual' })).status).toBe(400);

      // A scheduled refresh uses the consent given: no user, no redirect.
      const { job: refresh } = await app.client.connections.refresh.mutate({ id: connection.id });
      expect((await settled(refresh!.id)).status).toBe('succeeded');
    });
  }

  it("the user's browser at the callback finishes the job with no hosted pages; Deny is consent-denied", async () => {
    const approved = await awaitingRedirect('AU00200');
    const back = await bank.bankDecision(approved.job.challenge!.redirectUrl!, 'approve');
    const page = await fetch(back, { headers: { 'accept-language': 'de' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Zurück von Ihrer Bank');
    expect((await settled(approved.job.id)).status).toBe('succeeded');

    const denied = await awaitingRedirect('AU00300');
    const refusal = await bank.bankDecision(denied.job.challenge!.redirectUrl!, 'deny');
    expect(refusal.searchParams.get('error')).toBe('access_denied');
    await fetch(refusal);
    expect((await settled(denied.job.id)).status).toBe('failed');
    const connection = await app.client.connections.get.query({ id: denied.connection.id });
    expect(connection.error).toMatchObject({ category: 'functional', code: 'consent-denied' });
    expect(connection.userActionRequired).toBe(true);
  });

  it('a DECOUPLED challenge over the plug-in protocol: re-checked (as the recovery tick does) until the bank confirms', async () => {
    const { connection, job } = await app.client.connections.create.mutate({
      userId: 'decoupled-user',
      institutionId: 'AU00100',
      credentials: { loginId: 'decoupled', password: 'pw' },
    });
    const waiting = await awaitingChallenge(job.id);
    expect(waiting.challenge).toMatchObject({ type: 'DECOUPLED' });
    // Each re-check runs the job again and asks the provider; it says "not yet" (510 again) until it has the approval.
    await waitUntil(
      async () => {
        await service.services.jobs.recheckDecoupledChallenges();
        return (await app.client.jobs.get.query({ id: job.id })).status === 'succeeded';
      },
      20_000,
      'the bank to confirm',
    );
    expect((await app.client.connections.get.query({ id: connection.id })).status).toBe('ACTIVE');
  });
});
