import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/service-process.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';
import { ConnectPagesClient } from '../helpers/connect-pages.ts';

// Hosted Connect over plain HTTP (the browser tests drive the same pages in Chromium): the app's side (sessions,
// redirect URIs, events) and the user's side (every form of the flow), for a credentials bank and a redirect bank.

let service: TestService;
let app: TestApp;
let runner: JobRunner;
const REDIRECT = 'https://app.example.com/connected';

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
  await app.client.apps.addRedirectUri.mutate({ uri: REDIRECT });
  runner = service.runner({ pollMs: 50 });
  await runner.start();
});
afterAll(async () => {
  await runner.stop(1_000);
  await service.close();
});

const pages = (url: string) => new ConnectPagesClient(url);

describe('connect sessions: the app side', () => {
  it('create answers a URL on the service and an expiry; get shows the session; cancel ends it', async () => {
    const created = await app.client.connectSessions.create.mutate({
      userId: 'cs-user',
      redirectUri: REDIRECT,
      consentDays: 30,
      locale: 'de',
    });
    expect(created.url).toMatch(new RegExp(`^${service.url}/connect/[A-Za-z0-9_-]{43}$`));
    expect(created.expiresAt.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    const session = await app.client.connectSessions.get.query({ id: created.id });
    expect(session).toMatchObject({
      id: created.id,
      userId: 'cs-user',
      status: 'created',
      redirectUri: REDIRECT,
      consentDays: 30,
      locale: 'de',
      connectionId: null,
      repair: false,
    });
    expect(JSON.stringify(session)).not.toContain(created.url.split('/').at(-1)); // the token never comes back
    expect(await app.client.connectSessions.cancel.mutate({ id: created.id })).toMatchObject({ status: 'cancelled' });
    const page = await pages(created.url).get();
    expect(page.status).toBe(200);
    expect(page.html).toContain('Abgebrochen'); // German, as asked
  });

  it("refuses a redirect URI the app did not register (exactly), another app's connection, and a foreign user", async () => {
    const e1 = await rejection(app.client.connectSessions.create.mutate({ userId: 'u', redirectUri: `${REDIRECT}/` }));
    expect([e1.data?.code, e1.data?.issues?.[0]?.path]).toEqual(['BAD_REQUEST', ['redirectUri']]);
    const other = await createTestApp(service);
    const { connection } = await other.client.connections.create.mutate(connectionInput());
    const e2 = await rejection(app.client.connectSessions.create.mutate({ userId: connection.userId, connectionId: connection.id }));
    expect([e2.data?.code, e2.data?.issues?.[0]?.path]).toEqual(['NOT_FOUND', ['connectionId']]);
    const { connection: mine } = await app.client.connections.create.mutate(connectionInput());
    const e3 = await rejection(app.client.connectSessions.create.mutate({ userId: 'someone-else', connectionId: mine.id }));
    expect([e3.data?.code, e3.data?.issues?.[0]?.path]).toEqual(['BAD_REQUEST', ['userId']]);
    expect(
      (
        await rejection(
          other.client.connectSessions.get.query({ id: (await app.client.connectSessions.create.mutate({ userId: 'u' })).id }),
        )
      ).data?.code,
    ).toBe('NOT_FOUND');
  });

  it("idempotent like every mutation, and a session that would create a connection counts against the user's quota", async () => {
    const key = `cs-${Date.now()}`;
    const first = await app.client.connectSessions.create.mutate({ userId: 'idem-user' }, { context: { idempotencyKey: key } });
    const again = await app.client.connectSessions.create.mutate({ userId: 'idem-user' }, { context: { idempotencyKey: key } });
    expect(again).toEqual(first); // the same session and URL, not a second one
    const reused = await rejection(
      app.client.connectSessions.create.mutate({ userId: 'other-user' }, { context: { idempotencyKey: key } }),
    );
    expect(reused.data?.code).toBe('CONFLICT');
    // The stored answer (with the URL's token) is encrypted: the token is in no column in plain text.
    const token = first.url.split('/').at(-1)!;
    const rows: { row: string }[] = await service.database.db.query(
      `SELECT t::text AS row FROM idempotency_keys t UNION ALL SELECT t::text FROM connect_sessions t`,
    );
    expect(rows.filter((r) => r.row.includes(token))).toEqual([]);

    const small = await startTestService({ quotas: { connectionsPerUser: 1 } });
    try {
      const tenant = await createTestApp(small);
      await tenant.client.connections.create.mutate(connectionInput({ userId: 'full-user' }));
      const full = await rejection(tenant.client.connectSessions.create.mutate({ userId: 'full-user' }));
      expect([full.data?.code, full.data?.details]).toEqual(['FORBIDDEN', { quota: 'connectionsPerUser', limit: 1 }]);
      // Repairing the connection the user has needs no room.
      const id = (await tenant.client.connections.list.query({ userId: 'full-user' })).items[0]!.id;
      expect((await tenant.client.connectSessions.create.mutate({ userId: 'full-user', connectionId: id })).url).toContain('/connect/');
    } finally {
      await small.close();
    }
  });

  it('redirect URIs: https only (http for loopback), listed by apps.get, removable', async () => {
    const e = await rejection(app.client.apps.addRedirectUri.mutate({ uri: 'http://app.example.com/back' }));
    expect([e.data?.code, e.data?.issues?.[0]?.path]).toEqual(['BAD_REQUEST', ['uri']]);
    await app.client.apps.addRedirectUri.mutate({ uri: 'http://127.0.0.1:8080/back' });
    expect((await app.client.apps.get.query()).redirectUris).toEqual([REDIRECT, 'http://127.0.0.1:8080/back']);
    expect((await app.client.apps.removeRedirectUri.mutate({ uri: 'http://127.0.0.1:8080/back' })).redirectUris).toEqual([REDIRECT]);
  });
});

describe('connect sessions: the user side', () => {
  it('a credentials bank from consent to the redirect back, with connect_session.completed', async () => {
    const { id, url } = await app.client.connectSessions.create.mutate({ userId: 'flow-user', redirectUri: REDIRECT, locale: 'en' });
    const p = pages(url);
    expect((await p.get()).html).toContain('wants to connect to your bank');
    expect((await app.client.connectSessions.get.query({ id })).status).toBe('in-progress');
    await p.post('consent');
    const bank = await p.get('?q=hooli');
    expect(bank.html).toContain('Hooli Bank (Sandbox)');
    await p.post('bank', { institutionId: 'AU00000' });
    const signIn = await p.get();
    expect(signIn.html).toContain('Login ID');
    expect(signIn.html).toContain('type="password"');
    await p.post('credentials', { cred_loginId: 'gavinBelson', cred_password: 'hooli-pass-123' });
    await waitUntil(
      async () => (await app.client.connectSessions.get.query({ id })).status === 'completed',
      20_000,
      'the session to complete',
    );
    const session = await app.client.connectSessions.get.query({ id });
    const done = await p.get();
    expect(done.html).toContain('Connected');
    expect(done.html.replaceAll('&#38;', '&')).toContain(`${REDIRECT}?connectionId=${session.connectionId}&sessionId=${id}&status=success`);
    expect((await app.client.connections.get.query({ id: session.connectionId! })).status).toBe('ACTIVE');
    const events = (await app.client.events.list.query({ types: ['connect_session.completed'] })).items;
    expect(events.find((e) => (e.data as { session: { id: string } }).session.id === id)?.data).toMatchObject({
      connectionId: session.connectionId,
    });
  });

  it('the redirect bank: Continue to the bank, Approve, and back through the callback', async () => {
    const { id, url } = await app.client.connectSessions.create.mutate({ userId: 'oauth-user', institutionId: 'AU00200', consentDays: 45 });
    const p = pages(url);
    await p.get();
    await p.post('consent');
    expect((await p.get()).html).toContain('Continue to Sandbox OAuth Bank (Redirect)');
    await p.post('redirect');
    const redirectUrl = await waitUntil(async () => (await p.status()).redirectUrl, 20_000, 'the bank sign-in URL');
    expect(new URL(redirectUrl).pathname).toBe('/sandbox/bank/authorize');
    const bankPage = await fetch(redirectUrl);
    expect(await bankPage.text()).toContain('for 45 days');
    const back = await p.bankDecision(redirectUrl, 'approve');
    expect(back.pathname).toBe('/connect/callback');
    const returned = await fetch(back, { redirect: 'manual' });
    expect(returned.status).toBe(303);
    expect(returned.headers.get('location')).toBe(url);
    await waitUntil(
      async () => (await app.client.connectSessions.get.query({ id })).status === 'completed',
      20_000,
      'the session to complete',
    );
    const connection = await app.client.connections.get.query({ id: (await app.client.connectSessions.get.query({ id })).connectionId! });
    expect(connection.status).toBe('ACTIVE');
    expect(Math.round((connection.consentExpiresAt!.getTime() - Date.now()) / 86_400_000)).toBe(45);
    // The state worked once: the same callback again finds nothing.
    expect((await fetch(back, { redirect: 'manual' })).status).toBe(400);
  });

  it('Deny at the bank fails the session with consent-denied', async () => {
    const { id, url } = await app.client.connectSessions.create.mutate({ userId: 'deny-user', institutionId: 'AU00200' });
    const p = pages(url);
    await p.get();
    await p.post('consent');
    await p.post('redirect');
    const redirectUrl = await waitUntil(async () => (await p.status()).redirectUrl, 20_000, 'the bank sign-in URL');
    await fetch(await p.bankDecision(redirectUrl, 'deny'), { redirect: 'manual' });
    await waitUntil(async () => (await app.client.connectSessions.get.query({ id })).status === 'failed', 20_000, 'the session to fail');
    expect((await app.client.connectSessions.get.query({ id })).error).toMatchObject({ code: 'consent-denied' });
    expect((await p.get()).html).toContain('You did not give your consent');
    const events = (await app.client.events.list.query({ types: ['connect_session.failed'] })).items;
    expect(events.find((e) => (e.data as { session: { id: string } }).session.id === id)?.data).toMatchObject({
      reason: { code: 'consent-denied' },
    });
  });

  it('a wrong password is tried again on the same page; past the attempts the session fails', async () => {
    const { id, url } = await app.client.connectSessions.create.mutate({ userId: 'wrong-user', institutionId: 'AU00000' });
    const p = pages(url);
    await p.get();
    await p.post('consent');
    await p.post('credentials', { cred_loginId: 'gavin', cred_password: 'wrong' });
    await waitUntil(
      async () => (await app.client.connectSessions.get.query({ id })).status === 'awaiting-user',
      20_000,
      'the wrong password to come back',
    );
    const retry = await p.get();
    expect(retry.html).toContain('did not accept these details');
    expect(retry.html).toContain('2 attempts left');
    await p.post('credentials', { cred_loginId: 'gavin', cred_password: 'right-now' });
    await waitUntil(
      async () => (await app.client.connectSessions.get.query({ id })).status === 'completed',
      20_000,
      'the second try to complete',
    );
    const session = await app.client.connectSessions.get.query({ id });
    // One connection, repaired in place: the failed first try and the good second one share it.
    const jobs = await app.client.jobs.list.query({ connectionId: session.connectionId! });
    expect(jobs.map((j) => j.kind).sort()).toEqual(['create', 'update']);

    // Another session, and the wrong password three times (CONNECT_MAX_ATTEMPTS): the third ends the session.
    const other = await app.client.connectSessions.create.mutate({ userId: 'guessing-user', institutionId: 'AU00000' });
    const q = pages(other.url);
    await q.post('consent');
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await q.post('credentials', { cred_loginId: 'gavin', cred_password: 'wrong' })).status).toBe(303);
      await waitUntil(
        async () => ['awaiting-user', 'failed'].includes((await app.client.connectSessions.get.query({ id: other.id })).status),
        20_000,
        `try ${attempt} to come back`,
      );
    }
    const failed = await app.client.connectSessions.get.query({ id: other.id });
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'too-many-attempts' } });
    const end = await q.get();
    expect(end.html).toContain('too many');
    expect(end.html).not.toContain('name="cred_password"'); // no fourth try
    // A form posted again (the browser's Back) only shows the end again: no fourth try starts.
    const jobsBefore = await app.client.jobs.list.query({ connectionId: failed.connectionId! });
    await q.post('credentials', { cred_loginId: 'gavin', cred_password: 'guess-4' });
    expect(await app.client.jobs.list.query({ connectionId: failed.connectionId! })).toHaveLength(jobsBefore.length);
    expect((await app.client.connectSessions.get.query({ id: other.id })).status).toBe('failed');
  });

  it('a form sent twice (a double click, Back and send again) shows where the session is, never an error', async () => {
    const { id, url } = await app.client.connectSessions.create.mutate({ userId: 'double-user' });
    const p = pages(url);
    await p.get();
    const [first, second] = await Promise.all([p.post('consent'), p.post('consent')]);
    expect([first.status, second.status]).toEqual([303, 303]);
    expect((await p.post('consent')).status).toBe(303);
    expect((await p.post('bank', { institutionId: 'AU00000' })).status).toBe(303);
    expect((await p.post('bank', { institutionId: 'AU00001' })).status).toBe(303); // already chosen: stays with the first
    expect((await app.client.connectSessions.get.query({ id })).institutionId).toBe('AU00000');
    expect((await p.get()).html).toContain('Sign in to Hooli Bank (Sandbox)');
  });

  it("forms need their CSRF token and the service's origin", async () => {
    const { url } = await app.client.connectSessions.create.mutate({ userId: 'csrf-user' });
    const p = pages(url);
    await p.get();
    expect((await p.post('consent', {}, { csrf: 'forged' })).status).toBe(403);
    expect((await p.post('consent', {}, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await p.get()).html).toContain('wants to connect'); // still at consent
  });

  it('an unknown or expired link shows a clear page, never the flow', async () => {
    expect((await fetch(`${service.url}/connect/${'x'.repeat(43)}`)).status).toBe(404);
    const { id, url } = await app.client.connectSessions.create.mutate({ userId: 'late-user' });
    await service.database.db.query(`UPDATE connect_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [id]);
    const page = await pages(url).get();
    expect(page.html).toContain('This link has expired');
    expect(page.html).not.toContain('<form');
    expect((await app.client.connectSessions.get.query({ id })).status).toBe('expired');
  });

  it("pages send a strict CSP, frame only for the app's origins, and no Referer", async () => {
    const { url } = await app.client.connectSessions.create.mutate({ userId: 'headers-user' });
    const res = await fetch(url);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain('frame-ancestors https://app.example.com');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
