import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import { SANDBOX_CHALLENGE_ANSWER } from '../../src/providers/sandbox/sandbox-script.ts';
import { expireLapsedConsents } from '../../src/scheduler/consent.sweep.ts';
import { startAppSite, type AppSite } from '../helpers/app-site.ts';
import { CHROMIUM_PATH, expectAccessible, hasChromium, launchChromium } from '../helpers/browser.ts';
import { createTestApp, type TestApp } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// Hosted Connect in real Chromium (Debian's package, driven by playwright-core), at phone and desktop widths:
// every flow from the session's URL to the app's redirect URI, by mouse and by keyboard alone, axe-core on every
// page, and nothing typed into the pages anywhere it should not be.

if (hasChromium) console.log(`browser tests: running in Chromium (${CHROMIUM_PATH})`);
else console.warn(`browser tests: SKIPPED, no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
// CI (.ci/run) requires them: a run without a browser is not the whole suite.
it.runIf(!hasChromium && process.env.BROWSER_TESTS === 'required')('Chromium is there (BROWSER_TESTS=required)', () => {
  throw new Error(`BROWSER_TESTS=required, and there is no Chromium at ${CHROMIUM_PATH}`);
});

const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

let service: TestService;
let app: TestApp;
let runner: JobRunner;
let site: AppSite;
let browser: Browser;
const logLines: string[] = [];
/** Every URL the browser asked for, and every response body the service sent (tapped at the server). */
const seen: { urls: string[]; bodies: string[] } = { urls: [], bodies: [] };
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  service = await startTestService({ logLines, responseBodies: seen.bodies });
  app = await createTestApp(service, 'Budget Buddy');
  site = await startAppSite();
  await app.client.apps.addRedirectUri.mutate({ uri: site.redirectUri });
  runner = service.runner({ pollMs: 50 });
  await runner.start();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  if (!hasChromium) return;
  for (const c of contexts) await c.close();
  await browser?.close();
  await runner?.stop(1_000);
  await site?.close();
  await service?.close();
});

async function newPage(viewport = DESKTOP, locale = 'en-GB'): Promise<Page> {
  const context = await browser.newContext({ viewport, locale });
  contexts.push(context);
  context.on('request', (r) => void seen.urls.push(r.url()));
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

async function session(
  input: { institutionId?: string; connectionId?: string; consentDays?: number; userId?: string; locale?: 'en' | 'de' } = {},
  options: { redirect?: boolean } = {},
) {
  return app.client.connectSessions.create.mutate({
    userId: input.userId ?? `browser-${randomUUID().slice(0, 8)}`,
    ...(options.redirect === false ? {} : { redirectUri: site.redirectUri }),
    ...input,
  });
}

/** Where the flow ends: the app's redirect URI, with what it says in its query. */
async function returned(page: Page): Promise<URLSearchParams> {
  await page.waitForURL((u) => u.href.startsWith(site.redirectUri), { timeout: 30_000 });
  return new URL(page.url()).searchParams;
}

// A browser's flows take seconds each; a whole flow gets a minute on a busy machine.
describe.runIf(hasChromium)('Hosted Connect in Chromium', { timeout: 60_000 }, () => {
  it('a credentials bank with a one-time code, at 375 px: consent, bank search, sign-in, challenge, back to the app', async () => {
    const page = await newPage(PHONE);
    const password = `Pw-${randomUUID()}`;
    const { id, url } = await session();
    await page.goto(url);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain('Budget Buddy wants to connect to your bank');
    await expectAccessible(page, 'consent');
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.getByRole('searchbox', { name: 'Search banks' }).fill('Hooli');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/[?&]q=Hooli/);
    await expectAccessible(page, 'bank list');
    await page.getByRole('button', { name: 'Hooli Bank (Sandbox)' }).click();

    await page.getByLabel('Login ID').waitFor();
    await expectAccessible(page, 'sign-in');
    expect(await page.getByLabel('Password').getAttribute('type')).toBe('password');
    await page.getByLabel('Login ID').fill('challenge');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Connect' }).click();

    const code = page.getByLabel(/one-time code/);
    await code.waitFor();
    await expectAccessible(page, 'challenge');
    await code.fill(SANDBOX_CHALLENGE_ANSWER);
    await page.getByRole('button', { name: 'Submit' }).click();
    const query = await returned(page);
    await expectEndAccessible(url, 'Connected', 'done');
    const done = await app.client.connectSessions.get.query({ id });
    expect(Object.fromEntries(query)).toEqual({ connectionId: done.connectionId, sessionId: id, status: 'success' });
    expect((await app.client.connections.get.query({ id: done.connectionId! })).status).toBe('ACTIVE');
    expect((await app.client.accounts.list.query({ connectionId: done.connectionId! })).length).toBeGreaterThan(0);
    // The sandbox bank states its code in its own prompt; what the user typed must appear nowhere else.
    await expectNowhere([password, SANDBOX_CHALLENGE_ANSWER], { except: `(sandbox: ${SANDBOX_CHALLENGE_ANSWER})` });
  });

  it('the redirect bank through Approve, and through Deny', async () => {
    for (const decision of ['Approve', 'Deny'] as const) {
      const page = await newPage(DESKTOP);
      const { id, url } = await session({ institutionId: 'AU00200', consentDays: 60 });
      await page.goto(url);
      await page.getByRole('button', { name: 'Continue' }).click();
      const toBank = page.getByRole('button', { name: 'Continue to Sandbox OAuth Bank (Redirect)' });
      await toBank.waitFor();
      await expectAccessible(page, 'redirect sign-in');
      await toBank.click();
      await page.waitForURL(/\/sandbox\/bank\/authorize/);
      await expect.poll(() => page.textContent('main')).toContain('for 60 days');
      await expectAccessible(page, 'the bank');
      await page.getByRole('button', { name: decision }).click();
      const query = await returned(page);
      const done = await app.client.connectSessions.get.query({ id });
      if (decision === 'Approve') {
        expect(query.get('status')).toBe('success');
        const connection = await app.client.connections.get.query({ id: done.connectionId! });
        expect(connection.status).toBe('ACTIVE');
        expect(Math.round((connection.consentExpiresAt!.getTime() - Date.now()) / 86_400_000)).toBe(60);
      } else {
        expect(query.get('status')).toBe('failed');
        expect(done.error?.code).toBe('consent-denied');
        await expectEndAccessible(url, 'Not connected', 'denied', 'You did not give your consent');
      }
    }
  });

  it('a wrong password is corrected on the same page, by keyboard alone', async () => {
    const page = await newPage(DESKTOP);
    const { id, url } = await session({ institutionId: 'AU00000' });
    await page.goto(url);
    // Tab to Continue and press it: the keyboard reaches every control.
    await tabTo(page, 'Continue');
    await page.keyboard.press('Enter');
    await page.getByLabel('Login ID').waitFor();
    await tabTo(page, 'Login ID');
    await page.keyboard.type('gavin');
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toContain('did not accept these details');
    expect(await alert.textContent()).toContain('2 attempts left');
    await expectAccessible(page, 'wrong password');
    expect(await page.getByLabel('Password').inputValue()).toBe(''); // what was typed is not sent back
    await tabTo(page, 'Login ID');
    await page.keyboard.type('gavin');
    await page.keyboard.press('Tab');
    await page.keyboard.type('the-right-one');
    await page.keyboard.press('Enter');
    expect((await returned(page)).get('status')).toBe('success');
    expect((await app.client.connectSessions.get.query({ id })).status).toBe('completed');
  });

  it('repair in place: new credentials for an `invalid` connection, and a renewed consent for an expired one, both keeping the id', async () => {
    // A connection whose bank refused the credentials.
    const { connection: broken } = await app.client.connections.create.mutate({
      userId: 'repair-user',
      institutionId: 'AU00000',
      credentials: { loginId: 'invalid', password: 'x' },
    });
    await waitUntil(
      async () => (await app.client.connections.get.query({ id: broken.id })).userActionRequired,
      20_000,
      'the connection to need the user',
    );
    const page = await newPage(PHONE);
    const repair = await session({ userId: 'repair-user', connectionId: broken.id });
    await page.goto(repair.url);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Login ID').fill('gavin');
    await page.getByLabel('Password').fill('new-password');
    await page.getByRole('button', { name: 'Connect' }).click();
    const query = await returned(page);
    expect(query.get('connectionId')).toBe(broken.id);
    expect(await app.client.connections.get.query({ id: broken.id })).toMatchObject({ status: 'ACTIVE', userActionRequired: false });

    // A redirect connection whose consent lapsed: EXPIRED, renewed through the bank again.
    const first = await session({ userId: 'renew-user', institutionId: 'AU00200', consentDays: 7 });
    const p1 = await newPage(DESKTOP);
    await p1.goto(first.url);
    await p1.getByRole('button', { name: 'Continue' }).click();
    await p1.getByRole('button', { name: /^Continue to/ }).click();
    await p1.getByRole('button', { name: 'Approve' }).click();
    const connectionId = (await returned(p1)).get('connectionId')!;
    await service.database.db.query(`UPDATE connections SET consent_expires_at = now() - interval '1 hour' WHERE id = $1`, [connectionId]);
    expect(await expireLapsedConsents(service.deps, { batchSize: 10 })).toBe(1);
    expect((await app.client.connections.get.query({ id: connectionId })).status).toBe('EXPIRED');

    const renew = await session({ userId: 'renew-user', connectionId, consentDays: 90 });
    const p2 = await newPage(DESKTOP);
    await p2.goto(renew.url);
    await p2.getByRole('button', { name: 'Continue' }).click();
    await p2.getByRole('button', { name: /^Continue to/ }).click();
    await p2.getByRole('button', { name: 'Approve' }).click();
    expect((await returned(p2)).get('connectionId')).toBe(connectionId);
    const renewed = await app.client.connections.get.query({ id: connectionId });
    expect(renewed.status).toBe('ACTIVE');
    expect(Math.round((renewed.consentExpiresAt!.getTime() - Date.now()) / 86_400_000)).toBe(90);
    const types = (await app.client.events.list.query({ connectionId, limit: 500 })).items.map((e) => e.type);
    expect(types).toContain('connection.repaired');
  });

  it('an expired session shows a clear page, never the flow', async () => {
    const expire = (id: string) =>
      service.database.db.query(`UPDATE connect_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [id]);
    // Without a redirect URI the page stays where it is, so axe sees it whole (with one, the page goes back to the
    // app after a moment: below).
    const { id, url } = await session({}, { redirect: false });
    await expire(id);
    const page = await newPage(PHONE);
    await page.goto(url);
    await page.getByRole('heading', { name: 'This link has expired' }).waitFor();
    expect(await page.getByRole('button').count()).toBe(0);
    await expectAccessible(page, 'expired');
    await page.goto(`${service.url}/connect/${'x'.repeat(43)}`);
    await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
    await expectAccessible(page, 'not found');

    const back = await session();
    await expire(back.id);
    await page.goto(back.url);
    await page.getByRole('heading', { name: 'This link has expired' }).waitFor();
    const query = await returned(page);
    expect(query.get('status')).toBe('expired');
    expect(query.get('sessionId')).toBe(back.id);
  });

  it('opened as a popup, the end is a postMessage to the opener, to the redirect URI origin', async () => {
    const { id, url } = await session({ institutionId: 'DE00000', locale: 'de' });
    const opener = await newPage(DESKTOP);
    await opener.goto(site.popupPage(url));
    const [popup] = await Promise.all([opener.waitForEvent('popup'), opener.getByRole('button', { name: 'Connect a bank' }).click()]);
    await popup.getByRole('button', { name: 'Weiter' }).click(); // German, as the session asked
    const connect = popup.getByRole('button', { name: 'Verbinden' });
    await connect.waitFor();
    await expectAccessible(popup, 'German sign-in');
    await connect.click();
    await popup.getByRole('heading', { name: 'Verbunden' }).waitFor({ timeout: 30_000 });
    await expectAccessible(popup, 'German done');
    await expect.poll(async () => opener.textContent('#message'), { timeout: 20_000 }).not.toBe('');
    const message = JSON.parse((await opener.textContent('#message'))!) as { origin: string; data: Record<string, string> };
    const done = await app.client.connectSessions.get.query({ id });
    expect(message.origin).toBe(service.url);
    expect(message.data).toEqual({
      type: 'connections-service:connect',
      sessionId: id,
      connectionId: done.connectionId,
      status: 'success',
    });
    expect(popup.url()).toBe(url); // it stayed: the opener decides what comes next
  });

  it("in an iframe of the app's origin the end is a postMessage to the parent; another origin cannot frame the pages", async () => {
    const { id, url } = await session({ institutionId: 'AU00000' });
    const parent = await newPage(DESKTOP);
    await parent.goto(site.framePage(url));
    const frame = parent.frameLocator('iframe');
    await frame.getByRole('button', { name: 'Continue' }).click();
    await frame.getByLabel('Login ID').fill('frame-user');
    await frame.getByLabel('Password').fill('pw');
    await frame.getByRole('button', { name: 'Connect' }).click();
    await frame.getByRole('heading', { name: 'Connected' }).waitFor({ timeout: 30_000 });
    await expect.poll(async () => parent.textContent('#message'), { timeout: 20_000 }).not.toBe('');
    const message = JSON.parse((await parent.textContent('#message'))!) as { origin: string; data: Record<string, string> };
    expect(message.origin).toBe(service.url);
    expect(message.data).toMatchObject({ sessionId: id, status: 'success' });

    // The same page in a frame of a site the app never registered: Chromium refuses to show it (frame-ancestors).
    const stranger = await startAppSite();
    try {
      const other = await session();
      const page = await newPage(DESKTOP);
      const refused = page.waitForEvent('console', (m) => m.text().includes('frame-ancestors'));
      await page.goto(stranger.framePage(other.url));
      await refused;
      expect(await page.frameLocator('iframe').getByRole('button', { name: 'Continue' }).count()).toBe(0);
    } finally {
      await stranger.close();
    }
  });

  it('the progress page, and Cancel: back to the app with status=cancelled', async () => {
    const page = await newPage(PHONE);
    const { id, url } = await session({ institutionId: 'AU00000' });
    await page.goto(url);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Login ID').fill('progress-user');
    await page.getByLabel('Password').fill('pw');
    // The progress page reloads itself as the job moves: its status polls are held while axe looks at it.
    await whileHeld(
      page,
      (u) => u.pathname.endsWith('/status'),
      async () => {
        await page.getByRole('button', { name: 'Connect' }).click();
        await page.getByRole('heading', { name: 'Connecting to Hooli Bank (Sandbox)' }).waitFor();
        await expectAccessible(page, 'progress');
      },
    );
    expect((await returned(page)).get('status')).toBe('success');

    const cancelling = await newPage(PHONE);
    const other = await session();
    await cancelling.goto(other.url);
    await cancelling.getByRole('button', { name: 'Cancel' }).click();
    const query = await returned(cancelling);
    await expectEndAccessible(other.url, 'Cancelled', 'cancelled');
    expect([query.get('status'), query.get('sessionId'), query.has('connectionId')]).toEqual(['cancelled', other.id, false]);
    expect((await app.client.connectSessions.get.query({ id: other.id })).status).toBe('cancelled');
    expect((await app.client.connectSessions.get.query({ id })).status).toBe('completed');
  });

  it('a decoupled approval moves on by itself', async () => {
    const page = await newPage(PHONE);
    const { url } = await session({ institutionId: 'AU00000' });
    await page.goto(url);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Login ID').fill('decoupled');
    await page.getByLabel('Password').fill('pw');
    // The page reloads once a status poll says the bank confirmed: the decoupled page's polls are held while axe
    // looks at it (the earlier pages' polls are what bring the user to it).
    const onDecoupledPage = async () => ((await page.textContent('main')) ?? '').includes('approve this sign-in');
    await whileHeld(
      page,
      (u) => u.pathname.endsWith('/status'),
      async () => {
        await page.getByRole('button', { name: 'Connect' }).click();
        await expect.poll(onDecoupledPage, { timeout: 20_000 }).toBe(true);
        await expectAccessible(page, 'decoupled');
      },
      onDecoupledPage,
    );
    expect((await returned(page)).get('status')).toBe('success');
  });
});

/**
 * axe on the page a finished session ends with. That page goes back to the app by itself a moment after it shows,
 * so it is opened again (it says the same within minutes) with its script blocked, and stays put while axe looks.
 */
async function expectEndAccessible(sessionUrl: string, heading: string, where: string, text?: string): Promise<void> {
  const page = await newPage(DESKTOP);
  await page.route(
    (u) => u.pathname.endsWith('/connect.js'),
    (route) => route.abort(),
  );
  await page.goto(sessionUrl);
  await page.getByRole('heading', { name: heading }).waitFor();
  if (text) expect(await page.textContent('main')).toContain(text);
  await expectAccessible(page, where);
}

/**
 * Runs `fn` with the page's requests that match (and, if given, made while `onlyWhile` holds) held back until `fn`
 * is done: a page that moves on by itself stays put while a test looks at it.
 */
async function whileHeld(
  page: Page,
  matches: (url: URL) => boolean,
  fn: () => Promise<void>,
  onlyWhile: () => Promise<boolean> = async () => true,
): Promise<void> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const handler = async (route: Route) => {
    // The page that asked is still the current one here: nothing replaces it before this request is answered.
    if (await onlyWhile().catch(() => false)) await gate;
    await route.fallback();
  };
  await page.route(matches, handler);
  try {
    await fn();
  } finally {
    release();
    await page.unroute(matches, handler);
  }
}

/** Presses Tab until the element with this accessible name has the focus. */
async function tabTo(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    // Runs in the page (a string: this project's types have no DOM).
    const focused = await page.evaluate<string>(`(() => {
      const el = document.activeElement;
      if (!el) return '';
      const label = el.id ? document.querySelector('label[for="' + el.id + '"]')?.textContent : null;
      return (label ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
    })()`);
    if (focused === name) return;
  }
  throw new Error(`could not reach "${name}" with the Tab key`);
}

/** A secret typed into the pages: in no URL, no page or poll the browser got, no log line, no database column. */
async function expectNowhere(secrets: string[], options: { except?: string } = {}): Promise<void> {
  const scrub = (text: string) => (options.except ? text.replaceAll(options.except, '') : text);
  // Something to search in, or the check would pass on nothing.
  expect(seen.bodies.length).toBeGreaterThan(5);
  expect(logLines.some((l) => l.includes('job run ended'))).toBe(true);
  const tables: { table_name: string }[] = await service.database.db.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const dump: string[] = [];
  for (const { table_name } of tables) {
    for (const row of (await service.database.db.query(`SELECT t::text AS row FROM "${table_name}" t`)) as { row: string }[])
      dump.push(row.row);
  }
  for (const secret of secrets) {
    expect(
      seen.urls.filter((u) => u.includes(secret)),
      `URLs holding ${secret}`,
    ).toEqual([]);
    expect(
      seen.bodies.filter((b) => scrub(b).includes(secret)),
      `responses holding ${secret}`,
    ).toEqual([]);
    expect(
      logLines.filter((l) => scrub(l).includes(secret)),
      `log lines holding ${secret}`,
    ).toEqual([]);
    expect(
      dump.filter((r) => scrub(r).includes(secret)),
      `rows holding ${secret}`,
    ).toEqual([]);
  }
}
